#include "textflag.h"

// The inverse DCT of dct.go's idctRows and idctCols, eight rows (then
// columns) at a time: register Yn holds the variable xn of dct.go for
// eight lanes. R8 points at idctConsts.

// BFLY: a, b = a+b, a-b.
#define BFLY(a, b) \
	VPADDD  b, a, Y13 \
	VPSUBD  b, a, b   \
	VMOVDQA Y13, a

// BOX: a, b = dctBox(a, b, kcos, ksin), the constants kcos, ksin-kcos
// and kcos+ksin at off(R8).
#define BOX(a, b, off) \
	VPADDD       b, a, Y13        \
	VPBROADCASTD off+0(R8), Y14   \
	VPMULLD      Y14, Y13, Y13    \
	VPBROADCASTD off+4(R8), Y14   \
	VPMULLD      Y14, b, Y15      \
	VPBROADCASTD off+8(R8), Y14   \
	VPMULLD      Y14, a, a        \
	VPADDD       Y15, Y13, Y15    \
	VPSUBD       a, Y13, b        \
	VMOVDQA      Y15, a

// STORE4: the level shift, clip and store of the four rows lo, lo+1,
// hi, hi+1 (as registers) at DI, DI+stride, DI+2*stride, DI+3*stride.
#define STORE4(r0, r1, r2, r3) \
	VPADDD       Y12, r0, r0         \
	VPADDD       Y12, r1, r1         \
	VPADDD       Y12, r2, r2         \
	VPADDD       Y12, r3, r3         \
	VPACKSSDW    r1, r0, Y13         \
	VPACKSSDW    r3, r2, Y14         \
	VPACKUSWB    Y14, Y13, Y13       \
	VPERMD       Y13, Y11, Y13       \
	VMOVQ        X13, (DI)           \
	VPEXTRQ      $1, X13, (DI)(SI*1) \
	VEXTRACTI128 $1, Y13, X13        \
	VMOVQ        X13, (DI)(SI*2)     \
	VPEXTRQ      $1, X13, (DI)(AX*1)

// TRANSPOSE transposes the 8x8 matrix of the rows Y0 to Y7, and puts
// its rows 0 to 7 in Y0, Y7, Y2, Y5, Y1, Y6, Y3, Y4: the order in which
// idctRows and idctCols name the elements x0 to x7.
#define TRANSPOSE \
	VPUNPCKLDQ  Y1, Y0, Y8          \
	VPUNPCKHDQ  Y1, Y0, Y9          \
	VPUNPCKLDQ  Y3, Y2, Y10         \
	VPUNPCKHDQ  Y3, Y2, Y11         \
	VPUNPCKLDQ  Y5, Y4, Y12         \
	VPUNPCKHDQ  Y5, Y4, Y13         \
	VPUNPCKLDQ  Y7, Y6, Y14         \
	VPUNPCKHDQ  Y7, Y6, Y15         \
	VPUNPCKLQDQ Y10, Y8, Y0         \
	VPUNPCKHQDQ Y10, Y8, Y1         \
	VPUNPCKLQDQ Y11, Y9, Y2         \
	VPUNPCKHQDQ Y11, Y9, Y3         \
	VPUNPCKLQDQ Y14, Y12, Y4        \
	VPUNPCKHQDQ Y14, Y12, Y5        \
	VPUNPCKLQDQ Y15, Y13, Y6        \
	VPUNPCKHQDQ Y15, Y13, Y7        \
	VPERM2I128  $0x20, Y4, Y0, Y8   \
	VPERM2I128  $0x31, Y4, Y0, Y12  \
	VPERM2I128  $0x20, Y5, Y1, Y9   \
	VPERM2I128  $0x31, Y5, Y1, Y13  \
	VPERM2I128  $0x20, Y6, Y2, Y10  \
	VPERM2I128  $0x31, Y6, Y2, Y14  \
	VPERM2I128  $0x20, Y7, Y3, Y11  \
	VPERM2I128  $0x31, Y7, Y3, Y15  \
	VMOVDQA     Y8, Y0              \
	VMOVDQA     Y9, Y7              \
	VMOVDQA     Y10, Y2             \
	VMOVDQA     Y11, Y5             \
	VMOVDQA     Y12, Y1             \
	VMOVDQA     Y13, Y6             \
	VMOVDQA     Y14, Y3             \
	VMOVDQA     Y15, Y4

// func idctAVX2(b *block, qt *block, dst *byte, stride int, k *[16]int32)
TEXT ·idctAVX2(SB), NOSPLIT, $0-40
	MOVQ b+0(FP), DX
	MOVQ qt+8(FP), CX
	MOVQ dst+16(FP), DI
	MOVQ stride+24(FP), SI
	MOVQ k+32(FP), R8

	// The rows of b, dequantized, then transposed: Yn holds the variable
	// xn of idctRows for the eight rows.
	VMOVDQU 0(DX), Y0
	VMOVDQU 32(DX), Y1
	VMOVDQU 64(DX), Y2
	VMOVDQU 96(DX), Y3
	VMOVDQU 128(DX), Y4
	VMOVDQU 160(DX), Y5
	VMOVDQU 192(DX), Y6
	VMOVDQU 224(DX), Y7
	VPMULLD 0(CX), Y0, Y0
	VPMULLD 32(CX), Y1, Y1
	VPMULLD 64(CX), Y2, Y2
	VPMULLD 96(CX), Y3, Y3
	VPMULLD 128(CX), Y4, Y4
	VPMULLD 160(CX), Y5, Y5
	VPMULLD 192(CX), Y6, Y6
	VPMULLD 224(CX), Y7, Y7
	TRANSPOSE

	VPSLLD $17, Y0, Y0
	VPSLLD $17, Y1, Y1
	BFLY(Y0, Y1)
	BOX(Y2, Y3, 0)
	BFLY(Y1, Y2)
	BFLY(Y0, Y3)
	VPSLLD $7, Y4, Y4
	VPSLLD $7, Y7, Y7
	BFLY(Y7, Y4)
	VPBROADCASTD 48(R8), Y14
	VPMULLD Y14, Y6, Y6
	VPMULLD Y14, Y5, Y5
	BFLY(Y7, Y5)
	BFLY(Y4, Y6)
	VPSRAD $2, Y4, Y4
	VPSRAD $2, Y7, Y7
	BOX(Y4, Y7, 12)
	VPSRAD $2, Y5, Y5
	VPSRAD $2, Y6, Y6
	BOX(Y5, Y6, 24)
	BFLY(Y0, Y7)
	BFLY(Y1, Y6)
	BFLY(Y2, Y5)
	BFLY(Y3, Y4)

	// Yk now holds element k of each row: transposed, Yn holds the
	// variable xn of idctCols for the eight columns.
	TRANSPOSE

	VPBROADCASTD 56(R8), Y14
	VPADDD Y14, Y0, Y0
	BFLY(Y0, Y1)
	VPSRAD $2, Y0, Y0
	VPSRAD $2, Y1, Y1
	VPSRAD $13, Y2, Y2
	VPSRAD $13, Y3, Y3
	BOX(Y2, Y3, 36)
	BFLY(Y1, Y2)
	BFLY(Y0, Y3)
	BFLY(Y7, Y4)
	VPBROADCASTD 52(R8), Y14
	VPSRAD $13, Y5, Y5
	VPMULLD Y14, Y5, Y5
	VPSRAD $13, Y6, Y6
	VPMULLD Y14, Y6, Y6
	BFLY(Y7, Y5)
	BFLY(Y4, Y6)
	VPSRAD $14, Y4, Y4
	VPSRAD $14, Y7, Y7
	BOX(Y4, Y7, 12)
	VPSRAD $14, Y5, Y5
	VPSRAD $14, Y6, Y6
	BOX(Y5, Y6, 24)
	BFLY(Y0, Y7)
	BFLY(Y1, Y6)
	BFLY(Y2, Y5)
	BFLY(Y3, Y4)
	VPSRAD $18, Y0, Y0
	VPSRAD $18, Y1, Y1
	VPSRAD $18, Y2, Y2
	VPSRAD $18, Y3, Y3
	VPSRAD $18, Y4, Y4
	VPSRAD $18, Y5, Y5
	VPSRAD $18, Y6, Y6
	VPSRAD $18, Y7, Y7

	// Yk is output row k.
	VPBROADCASTD 60(R8), Y12
	VMOVDQU      storeperm<>(SB), Y11
	LEAQ         (SI)(SI*2), AX
	STORE4(Y0, Y1, Y2, Y3)
	LEAQ         (DI)(SI*4), DI
	STORE4(Y4, Y5, Y6, Y7)
	VZEROUPPER
	RET

// storeperm puts each row's two halves together after the packs.
DATA storeperm<>+0(SB)/8, $0x0000000400000000
DATA storeperm<>+8(SB)/8, $0x0000000500000001
DATA storeperm<>+16(SB)/8, $0x0000000600000002
DATA storeperm<>+24(SB)/8, $0x0000000700000003
GLOBL storeperm<>(SB), RODATA|NOPTR, $32
