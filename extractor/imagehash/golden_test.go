package imagehash

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"
	"slices"
	"testing"
)

// goldenInputs are images of every kind Hash meets: JPEGs in colour and
// gray, a cropped re-encoding, a PNG and a WebP.
func goldenInputs(t testing.TB) map[string][]byte {
	in := map[string][]byte{}
	for id := range 6 {
		in[fmt.Sprintf("photo%d q85", id)] = jpegOf(t, photo(id), 85)
		in[fmt.Sprintf("photo%d cropped q70", id)] = jpegOf(t, cropSides(photo(id), 0.05, 0.01, 0, 0.03), 70)
	}
	g := image.NewGray(image.Rect(0, 0, 170, 233))
	for i := range g.Pix {
		g.Pix[i] = byte(i*7 + i/170)
	}
	in["gray jpeg"] = jpegOf(t, g, 80)
	var p bytes.Buffer
	_ = png.Encode(&p, photo(7))
	in["png"] = p.Bytes()
	w, err := os.ReadFile("testdata/photo3.webp")
	if err != nil {
		t.Fatal(err)
	}
	in["webp"] = w
	return in
}

// golden are the hashes of goldenInputs as Hash computed them with
// x/image/draw's BiLinear scaler into RGBA, before the fast path. Linking
// compares new hashes with stored ones, so they must not move by a bit.
var golden = map[string]struct {
	plain uint64
	crops []uint64
}{
	"gray jpeg":          {plain: 0x99157954e155f545, crops: []uint64{0xb9134ef4f4554455, 0xff36aa10ea55e604, 0xb9134ef4e560e724, 0xd5aa55b055555555, 0xb913cee4ee55b204, 0xbb1b4ee4eaf1a204, 0xb91346e4e075e555, 0xb19b46f455750555, 0xb9134eecea752644}},
	"photo0 cropped q70": {plain: 0xe338374daa314f94, crops: []uint64{0xe338334faa314f94, 0xe338374daa314f94, 0xca7937ceb8314a94, 0xc33837cdba51ce90, 0xe338334faa314f94, 0xca7937cea8314b94, 0xca7937cab071cc94, 0xe33833cdba51ce90, 0xe278374faa31ca94}},
	"photo0 q85":         {plain: 0xce7936cd8a364994, crops: []uint64{0xe73837cdaa304d94, 0xceb936cdaa324994, 0xca7937cec8355894, 0xce79364daa754894, 0xc73837cdaa324d94, 0xca7937cec8355894, 0xca7937cab8354895, 0xc278374daa754e94, 0xca7937ceaa354894}},
	"photo1 cropped q70": {plain: 0xdb78b6c28d850f2a, crops: []uint64{0xdb78b6c08d85073b, 0xdb78b6c28dc50729, 0xdb78b6c48d810f3a, 0xdb78b6c08d850f6a, 0xdb78b6d28dc50529, 0xdb78b6c48d810f2b, 0xdb78b6c48d810f5a, 0xdb78b6c08d85077a, 0xdb78b6c08d850f2b}},
	"photo1 q85":         {plain: 0xda70bec68d85172a, crops: []uint64{0xdb70bec68d85072a, 0xda70bec68d850f29, 0xda70bc858f891f2a, 0xda70b6c68d851f2a, 0xdb70bec28d85072d, 0xda70bcc48f8d0f2a, 0xda70bcc58f811f2a, 0xdb70b6c68d850f2a, 0xda70bec68d850f2a}},
	"photo2 cropped q70": {plain: 0xa4a4dff54a7fa020, crops: []uint64{0xa4a45ff54a5fb0a0, 0xa0a4dff54a5fb0a0, 0xa0a4dff34affa020, 0xa4a4dff14affa020, 0xa4a4dfd54a5fb0a0, 0xa0a4dff54a5fb420, 0xa0a4dff05affa021, 0xa4a4dff14af7a0a0, 0xa4a4dff54a5fa0a0}},
	"photo2 q85":         {plain: 0xa5a5def54a5ca520, crops: []uint64{0xa4a4dff54a5fa420, 0xa5a5dcf54a5cb4a0, 0xa5a5def44a5ca521, 0xa5a5dcf14a7ca521, 0xa4a4dff54a5eb420, 0xa5a5def55a58a520, 0xa5a5dcf05afca501, 0xa4a4dff54a7fa020, 0xa5a5dff54a5ca420}},
	"photo3 cropped q70": {plain: 0x9c7c716132fe9213, crops: []uint64{0x9c7c716133be9213, 0x9c7c716123fe9213, 0x9c7c716122f69633, 0x9c7c716132b69273, 0x9c7c796121fe9213, 0x9c7c714923fc9613, 0x9c7c716136b68273, 0x9c7c796132b69271, 0x9c7c716132fe9213}},
	"photo3 q85":         {plain: 0x9c74716b26f09617, crops: []uint64{0x9c7c716923f29613, 0x9c7c716b23f09613, 0x9d6c616b26f09617, 0x9c74616b26f09763, 0x9c7c716923f89613, 0x9d7c714b23709617, 0x9d7c616b26f09623, 0x9c7c716132f09373, 0x9c7c716b23f09613}},
	"photo4 cropped q70": {plain: 0xf59f8a2c6521d532, crops: []uint64{0xf58bca2c6424f533, 0xf59e9aa84c21e5b2, 0xf59e9a686561c532, 0xf58e8a6d64619533, 0xf58bcaac4c24e4b3, 0xf59e9aa84c21e5b4, 0xf59e926965619532, 0xf58bca6d64249533, 0xf58e9a286461f533}},
	"photo4 q85":         {plain: 0xf59e9aa06d21e1b2, crops: []uint64{0xf59ecaa06d21e1b2, 0xf59e9aa04c21e5b6, 0xf59e9a604961e1b6, 0xf59e9a616461d532, 0xf59e9aa04c21e5b6, 0xf59e9aa84c61e1b4, 0xf59e92696561c532, 0xf59e9a606561d532, 0xf59e9aa04c61e1b6}},
	"photo5 cropped q70": {plain: 0xad43322e9b645ba6, crops: []uint64{0xad42322f9f6459a6, 0xad43322f9b64592e, 0xad42322e9b655b8e, 0xad43322fd5641ba6, 0xad43322f9b6459a6, 0xadc3322e9b655926, 0xad42322edf651aa6, 0xad42322fdd641ba6, 0xad42322f9b645ba6}},
	"photo5 q85":         {plain: 0xad47322e8b65d92a, crops: []uint64{0xad43322e8f65d92a, 0xad47322e9b65513a, 0xad47326e9a65d306, 0xad47322e99651b8e, 0xad47122e9b65593a, 0xad47322e9a65d136, 0xad47326e9b65128e, 0xad43322e99655b8e, 0xad47322e9b65530e}},
	"png":                {plain: 0xb70cc9728db648b3, crops: []uint64{0xb30cc9728db34cb3, 0xb70cc9728db748a3, 0xb70ccb7289b648a7, 0xb68ccb728d9248b7, 0xb30cc9728db34cb3, 0xb70ccb7289b648a7, 0xb78ccb72899448b7, 0xb38cc972ad924cb3, 0xb70ccb72899648b7}},
	"webp":               {plain: 0x9c74716b27f09613, crops: []uint64{0x9c7c716923f69213, 0x9c7c716b23f09613, 0x9d7c616b26f09607, 0x9c74616b26f09763, 0x9c7c716923f89613, 0x9d7c714b23709617, 0x9d7c616b26b09663, 0x9c7c716132f09373, 0x9c7c716b23f09613}},
}

func TestHashesUnchanged(t *testing.T) {
	eachKernel(t, func(t *testing.T) {
		in := goldenInputs(t)
		if len(in) != len(golden) {
			t.Fatalf("%d inputs, %d golden hashes", len(in), len(golden))
		}
		for name, data := range in {
			r, err := Hash(data, 1<<24)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			want := golden[name]
			if r.PHash != want.plain || !slices.Equal(r.Crops, want.crops) {
				t.Errorf("%s: pHash %#016x crops %x, want %#016x %x", name, r.PHash, r.Crops, want.plain, want.crops)
			}
		}
	})
}
