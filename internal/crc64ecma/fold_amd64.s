#include "textflag.h"

// func foldAsm(init uint64, p []byte, k512, k128 *[2]uint64, acc *[2]uint64)
TEXT ·foldAsm(SB), NOSPLIT, $0-56
	MOVQ init+0(FP), AX
	MOVQ p_base+8(FP), SI
	MOVQ p_len+16(FP), CX
	MOVQ k512+32(FP), BX
	MOVQ k128+40(FP), DX
	MOVQ acc+48(FP), DI

	MOVOU (BX), X8          // k512: lo's constant, hi's constant
	MOVOU (DX), X9          // k128

	MOVOU 0(SI), X0
	MOVOU 16(SI), X1
	MOVOU 32(SI), X2
	MOVOU 48(SI), X3
	MOVQ  AX, X4
	PXOR  X4, X0
	ADDQ  $64, SI
	SUBQ  $64, CX

loop64:
	CMPQ CX, $64
	JB   fold4
	MOVOA     X0, X4
	MOVOA     X1, X5
	MOVOA     X2, X6
	MOVOA     X3, X7
	PCLMULQDQ $0x00, X8, X0
	PCLMULQDQ $0x00, X8, X1
	PCLMULQDQ $0x00, X8, X2
	PCLMULQDQ $0x00, X8, X3
	PCLMULQDQ $0x11, X8, X4
	PCLMULQDQ $0x11, X8, X5
	PCLMULQDQ $0x11, X8, X6
	PCLMULQDQ $0x11, X8, X7
	PXOR      X4, X0
	PXOR      X5, X1
	PXOR      X6, X2
	PXOR      X7, X3
	MOVOU     0(SI), X4
	MOVOU     16(SI), X5
	MOVOU     32(SI), X6
	MOVOU     48(SI), X7
	PXOR      X4, X0
	PXOR      X5, X1
	PXOR      X6, X2
	PXOR      X7, X3
	ADDQ      $64, SI
	SUBQ      $64, CX
	JMP       loop64

fold4:
	// X1 ^= fold(X0); X2 ^= fold(X1); X3 ^= fold(X2)
	MOVOA     X0, X4
	PCLMULQDQ $0x00, X9, X0
	PCLMULQDQ $0x11, X9, X4
	PXOR      X4, X0
	PXOR      X0, X1
	MOVOA     X1, X4
	PCLMULQDQ $0x00, X9, X1
	PCLMULQDQ $0x11, X9, X4
	PXOR      X4, X1
	PXOR      X1, X2
	MOVOA     X2, X4
	PCLMULQDQ $0x00, X9, X2
	PCLMULQDQ $0x11, X9, X4
	PXOR      X4, X2
	PXOR      X2, X3

loop16:
	CMPQ      CX, $16
	JB        done
	MOVOA     X3, X4
	PCLMULQDQ $0x00, X9, X3
	PCLMULQDQ $0x11, X9, X4
	PXOR      X4, X3
	MOVOU     0(SI), X4
	PXOR      X4, X3
	ADDQ      $16, SI
	SUBQ      $16, CX
	JMP       loop16

done:
	MOVOU X3, (DI)
	RET
