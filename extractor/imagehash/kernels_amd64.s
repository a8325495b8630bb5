#include "textflag.h"

// func horizontalAVX2(out, px, weight4, inv *float64, start *int, k, groups int)
//
// Four columns at a time, each with its own sum (Y0 to Y3), so that their
// additions overlap; each sum's additions stay in tap order.
TEXT ·horizontalAVX2(SB), NOSPLIT, $0-56
	MOVQ out+0(FP), DI
	MOVQ px+8(FP), SI
	MOVQ weight4+16(FP), R8
	MOVQ inv+24(FP), R9
	MOVQ start+32(FP), R10
	MOVQ k+40(FP), R11
	MOVQ groups+48(FP), R12
	SHLQ $5, R11 // the bytes of a group's weights for one tap, times k

group:
	TESTQ R12, R12
	JE    done
	MOVQ  0(R10), AX
	SHLQ  $5, AX
	ADDQ  SI, AX
	MOVQ  8(R10), BX
	SHLQ  $5, BX
	ADDQ  SI, BX
	MOVQ  16(R10), CX
	SHLQ  $5, CX
	ADDQ  SI, CX
	MOVQ  24(R10), DX
	SHLQ  $5, DX
	ADDQ  SI, DX
	LEAQ  (R8)(R11*1), R13 // the end of the group's weights
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3

tap:
	VBROADCASTSD 0(R8), Y4
	VBROADCASTSD 8(R8), Y5
	VBROADCASTSD 16(R8), Y6
	VBROADCASTSD 24(R8), Y7
	VMULPD       (AX), Y4, Y4
	VMULPD       (BX), Y5, Y5
	VMULPD       (CX), Y6, Y6
	VMULPD       (DX), Y7, Y7
	VADDPD       Y4, Y0, Y0
	VADDPD       Y5, Y1, Y1
	VADDPD       Y6, Y2, Y2
	VADDPD       Y7, Y3, Y3
	ADDQ         $32, AX
	ADDQ         $32, BX
	ADDQ         $32, CX
	ADDQ         $32, DX
	ADDQ         $32, R8
	CMPQ         R8, R13
	JNE          tap

	VBROADCASTSD 0(R9), Y4
	VBROADCASTSD 8(R9), Y5
	VBROADCASTSD 16(R9), Y6
	VBROADCASTSD 24(R9), Y7
	VMULPD       Y4, Y0, Y0
	VMULPD       Y5, Y1, Y1
	VMULPD       Y6, Y2, Y2
	VMULPD       Y7, Y3, Y3
	VMOVUPD      Y0, 0(DI)
	VMOVUPD      Y1, 24(DI)
	VMOVUPD      Y2, 48(DI)
	VMOVUPD      Y3, 72(DI)
	ADDQ         $96, DI
	ADDQ         $32, R9
	ADDQ         $32, R10
	DECQ         R12
	JMP          group

done:
	VZEROUPPER
	RET

// func set3AVX2(acc, r0, r1, r2 *float64, w0, w1, w2 float64, groups int)
TEXT ·set3AVX2(SB), NOSPLIT, $0-64
	MOVQ         acc+0(FP), DI
	MOVQ         r0+8(FP), SI
	MOVQ         r1+16(FP), R8
	MOVQ         r2+24(FP), R9
	VBROADCASTSD w0+32(FP), Y5
	VBROADCASTSD w1+40(FP), Y6
	VBROADCASTSD w2+48(FP), Y7
	MOVQ         groups+56(FP), CX
	TESTQ        CX, CX
	JE           set3done

set3loop:
	VMULPD  (SI), Y5, Y1
	VMULPD  (R8), Y6, Y2
	VMULPD  (R9), Y7, Y3
	VADDPD  Y2, Y1, Y0
	VADDPD  Y3, Y0, Y0
	VMOVUPD Y0, (DI)
	ADDQ    $32, DI
	ADDQ    $32, SI
	ADDQ    $32, R8
	ADDQ    $32, R9
	DECQ    CX
	JNE     set3loop

set3done:
	VZEROUPPER
	RET

// func add3AVX2(acc, r0, r1, r2 *float64, w0, w1, w2 float64, groups int)
TEXT ·add3AVX2(SB), NOSPLIT, $0-64
	MOVQ         acc+0(FP), DI
	MOVQ         r0+8(FP), SI
	MOVQ         r1+16(FP), R8
	MOVQ         r2+24(FP), R9
	VBROADCASTSD w0+32(FP), Y5
	VBROADCASTSD w1+40(FP), Y6
	VBROADCASTSD w2+48(FP), Y7
	MOVQ         groups+56(FP), CX
	TESTQ        CX, CX
	JE           add3done

add3loop:
	VMULPD  (SI), Y5, Y1
	VMULPD  (R8), Y6, Y2
	VMULPD  (R9), Y7, Y3
	VMOVUPD (DI), Y0
	VADDPD  Y1, Y0, Y0
	VADDPD  Y2, Y0, Y0
	VADDPD  Y3, Y0, Y0
	VMOVUPD Y0, (DI)
	ADDQ    $32, DI
	ADDQ    $32, SI
	ADDQ    $32, R8
	ADDQ    $32, R9
	DECQ    CX
	JNE     add3loop

add3done:
	VZEROUPPER
	RET

// func add1AVX2(acc, r0 *float64, w0 float64, groups int)
TEXT ·add1AVX2(SB), NOSPLIT, $0-32
	MOVQ         acc+0(FP), DI
	MOVQ         r0+8(FP), SI
	VBROADCASTSD w0+16(FP), Y5
	MOVQ         groups+24(FP), CX
	TESTQ        CX, CX
	JE           add1done

add1loop:
	VMULPD  (SI), Y5, Y1
	VMOVUPD (DI), Y0
	VADDPD  Y1, Y0, Y0
	VMOVUPD Y0, (DI)
	ADDQ    $32, DI
	ADDQ    $32, SI
	DECQ    CX
	JNE     add1loop

add1done:
	VZEROUPPER
	RET

// The constants of convert420AVX2: image/color's YCbCr to RGB factors,
// the clamp's bound, and the spreading of a pair's chroma over its two
// pixels.
DATA c128<>+0(SB)/8, $0x0000008000000080
DATA c128<>+8(SB)/8, $0x0000008000000080
DATA c128<>+16(SB)/8, $0x0000008000000080
DATA c128<>+24(SB)/8, $0x0000008000000080
GLOBL c128<>(SB), RODATA|NOPTR, $32

DATA kR<>+0(SB)/8, $0x000166e9000166e9
DATA kR<>+8(SB)/8, $0x000166e9000166e9
DATA kR<>+16(SB)/8, $0x000166e9000166e9
DATA kR<>+24(SB)/8, $0x000166e9000166e9
GLOBL kR<>(SB), RODATA|NOPTR, $32

DATA kGb<>+0(SB)/8, $0xffffa7e6ffffa7e6
DATA kGb<>+8(SB)/8, $0xffffa7e6ffffa7e6
DATA kGb<>+16(SB)/8, $0xffffa7e6ffffa7e6
DATA kGb<>+24(SB)/8, $0xffffa7e6ffffa7e6
GLOBL kGb<>(SB), RODATA|NOPTR, $32

DATA kGr<>+0(SB)/8, $0xffff492effff492e
DATA kGr<>+8(SB)/8, $0xffff492effff492e
DATA kGr<>+16(SB)/8, $0xffff492effff492e
DATA kGr<>+24(SB)/8, $0xffff492effff492e
GLOBL kGr<>(SB), RODATA|NOPTR, $32

DATA kB<>+0(SB)/8, $0x0001c5a20001c5a2
DATA kB<>+8(SB)/8, $0x0001c5a20001c5a2
DATA kB<>+16(SB)/8, $0x0001c5a20001c5a2
DATA kB<>+24(SB)/8, $0x0001c5a20001c5a2
GLOBL kB<>(SB), RODATA|NOPTR, $32

DATA max24<>+0(SB)/8, $0x00ffffff00ffffff
DATA max24<>+8(SB)/8, $0x00ffffff00ffffff
DATA max24<>+16(SB)/8, $0x00ffffff00ffffff
DATA max24<>+24(SB)/8, $0x00ffffff00ffffff
GLOBL max24<>(SB), RODATA|NOPTR, $32

DATA permlo<>+0(SB)/8, $0x0000000000000000
DATA permlo<>+8(SB)/8, $0x0000000100000001
DATA permlo<>+16(SB)/8, $0x0000000200000002
DATA permlo<>+24(SB)/8, $0x0000000300000003
GLOBL permlo<>(SB), RODATA|NOPTR, $32

DATA permhi<>+0(SB)/8, $0x0000000400000004
DATA permhi<>+8(SB)/8, $0x0000000500000005
DATA permhi<>+16(SB)/8, $0x0000000600000006
DATA permhi<>+24(SB)/8, $0x0000000700000007
GLOBL permhi<>(SB), RODATA|NOPTR, $32

// CONVERT_HALF converts the eight pixels of ys at yoff(SI), their chroma
// terms (Y2 red, Y3 green, Y4 blue, one per pair) spread by perm, into
// eight four-lane float64 pixels at pxoff(DI).
#define CONVERT_HALF(perm, yoff, pxoff) \
	VPMOVZXBD    yoff(SI), Y5           \
	VPSLLD       $8, Y5, Y6             \
	VPSLLD       $16, Y5, Y7            \
	VPOR         Y6, Y5, Y5             \
	VPOR         Y7, Y5, Y5             \
	VPERMD       Y2, perm, Y6           \
	VPADDD       Y5, Y6, Y6             \
	VPMAXSD      Y15, Y6, Y6            \
	VPMINSD      max24<>(SB), Y6, Y6    \
	VPSRLD       $8, Y6, Y6             \
	VPERMD       Y3, perm, Y7           \
	VPADDD       Y5, Y7, Y7             \
	VPMAXSD      Y15, Y7, Y7            \
	VPMINSD      max24<>(SB), Y7, Y7    \
	VPSRLD       $8, Y7, Y7             \
	VPERMD       Y4, perm, Y8           \
	VPADDD       Y5, Y8, Y8             \
	VPMAXSD      Y15, Y8, Y8            \
	VPMINSD      max24<>(SB), Y8, Y8    \
	VPSRLD       $8, Y8, Y8             \
	VPUNPCKLDQ   Y7, Y6, Y9             \
	VPUNPCKHDQ   Y7, Y6, Y10            \
	VPUNPCKLDQ   Y15, Y8, Y11           \
	VPUNPCKHDQ   Y15, Y8, Y12           \
	VPUNPCKLQDQ  Y11, Y9, Y5            \
	VPUNPCKHQDQ  Y11, Y9, Y6            \
	VPUNPCKLQDQ  Y12, Y10, Y7           \
	VPUNPCKHQDQ  Y12, Y10, Y8           \
	VCVTDQ2PD    X5, Y9                 \
	VMOVUPD      Y9, pxoff+0(DI)        \
	VEXTRACTI128 $1, Y5, X5             \
	VCVTDQ2PD    X5, Y5                 \
	VMOVUPD      Y5, pxoff+128(DI)      \
	VCVTDQ2PD    X6, Y9                 \
	VMOVUPD      Y9, pxoff+32(DI)       \
	VEXTRACTI128 $1, Y6, X6             \
	VCVTDQ2PD    X6, Y6                 \
	VMOVUPD      Y6, pxoff+160(DI)      \
	VCVTDQ2PD    X7, Y9                 \
	VMOVUPD      Y9, pxoff+64(DI)       \
	VEXTRACTI128 $1, Y7, X7             \
	VCVTDQ2PD    X7, Y7                 \
	VMOVUPD      Y7, pxoff+192(DI)      \
	VCVTDQ2PD    X8, Y9                 \
	VMOVUPD      Y9, pxoff+96(DI)       \
	VEXTRACTI128 $1, Y8, X8             \
	VCVTDQ2PD    X8, Y8                 \
	VMOVUPD      Y8, pxoff+224(DI)

// func convert420AVX2(px *float64, ys, cb, cr *uint8, groups int)
TEXT ·convert420AVX2(SB), NOSPLIT, $0-40
	MOVQ    px+0(FP), DI
	MOVQ    ys+8(FP), SI
	MOVQ    cb+16(FP), R8
	MOVQ    cr+24(FP), R9
	MOVQ    groups+32(FP), CX
	VPXOR   Y15, Y15, Y15
	VMOVDQU permlo<>(SB), Y14
	VMOVDQU permhi<>(SB), Y13
	TESTQ   CX, CX
	JE      convdone

convloop:
	VPMOVZXBD (R8), Y0
	VPMOVZXBD (R9), Y1
	VPSUBD    c128<>(SB), Y0, Y0
	VPSUBD    c128<>(SB), Y1, Y1
	VPMULLD   kR<>(SB), Y1, Y2
	VPMULLD   kGb<>(SB), Y0, Y3
	VPMULLD   kGr<>(SB), Y1, Y4
	VPADDD    Y4, Y3, Y3
	VPMULLD   kB<>(SB), Y0, Y4
	CONVERT_HALF(Y14, 0, 0)
	CONVERT_HALF(Y13, 8, 256)
	ADDQ      $16, SI
	ADDQ      $8, R8
	ADDQ      $8, R9
	ADDQ      $512, DI
	DECQ      CX
	JNE       convloop

convdone:
	VZEROUPPER
	RET

// DCT_TAP adds the sample in lane lane of Y8 (row 0) and Y9 (row 1) times
// cosColumns[x] (at off(R8)) to the sums Y0, Y1 (row 0) and Y2, Y3 (row 1).
#define DCT_TAP(lane, off) \
	VPERMPD      $lane, Y8, Y10     \
	VPERMPD      $lane, Y9, Y11     \
	VMULPD       off(R8), Y10, Y12  \
	VMULPD       off+32(R8), Y10, Y13 \
	VADDPD       Y12, Y0, Y0        \
	VADDPD       Y13, Y1, Y1        \
	VMULPD       off(R8), Y11, Y12  \
	VMULPD       off+32(R8), Y11, Y13 \
	VADDPD       Y12, Y2, Y2        \
	VADDPD       Y13, Y3, Y3

// func dctRowsAVX2(out *[2][8]float64, rows *[4]*[dctSize]float64, w *[4]float64, cos *[dctSize][8]float64)
TEXT ·dctRowsAVX2(SB), NOSPLIT, $0-32
	MOVQ         out+0(FP), DI
	MOVQ         rows+8(FP), SI
	MOVQ         w+16(FP), DX
	MOVQ         cos+24(FP), R8
	MOVQ         0(SI), AX  // top0
	MOVQ         8(SI), BX  // bot0
	MOVQ         16(SI), CX // top1
	MOVQ         24(SI), SI // bot1
	VBROADCASTSD 0(DX), Y4  // wt0
	VBROADCASTSD 8(DX), Y5  // wb0
	VBROADCASTSD 16(DX), Y6 // wt1
	VBROADCASTSD 24(DX), Y7 // wb1
	VXORPD       Y0, Y0, Y0
	VXORPD       Y1, Y1, Y1
	VXORPD       Y2, Y2, Y2
	VXORPD       Y3, Y3, Y3
	MOVQ         $16, R9    // 64 samples, four at a time

dctloop:
	VMULPD (AX), Y4, Y8
	VMULPD (BX), Y5, Y10
	VADDPD Y10, Y8, Y8      // row 0's samples x..x+3
	VMULPD (CX), Y6, Y9
	VMULPD (SI), Y7, Y11
	VADDPD Y11, Y9, Y9      // row 1's
	DCT_TAP(0x00, 0)
	DCT_TAP(0x55, 64)
	DCT_TAP(0xaa, 128)
	DCT_TAP(0xff, 192)
	ADDQ   $32, AX
	ADDQ   $32, BX
	ADDQ   $32, CX
	ADDQ   $32, SI
	ADDQ   $256, R8
	DECQ   R9
	JNE    dctloop

	VMOVUPD Y0, 0(DI)
	VMOVUPD Y1, 32(DI)
	VMOVUPD Y2, 64(DI)
	VMOVUPD Y3, 96(DI)
	VZEROUPPER
	RET
