using System.Runtime.InteropServices;

namespace Xtf.Sim.Cpu;

/// <summary>What a pre-decoded instruction does. The hot forms are executed inline by the run loop.</summary>
internal enum H : ushort
{
    /// <summary>Slot not decoded yet.</summary>
    None = 0,

    // ---- hot, inline in the run loop
    MovRR, MovRM, MovMR, MovRI, MovMI, Lea,
    // Register-destination ALU forms, one handler per operation (x86 /r order: add or adc sbb and sub xor cmp).
    AddRR, OrRR, AdcRR, SbbRR, AndRR, SubRR, XorRR, CmpRR,
    AddRI, OrRI, AdcRI, SbbRI, AndRI, SubRI, XorRI, CmpRI,
    AddRM, OrRM, AdcRM, SbbRM, AndRM, SubRM, XorRM, CmpRM,
    // Memory-destination ALU forms: Aux = operation.
    AluMR, AluMI,
    TestRR, TestRI, TestMR, TestMI,
    IncDecR, Jcc, Jmp, Call, Ret, PushR, PopR, PushI, Nop,
    MovzxRR, MovzxRM, MovsxRR, MovsxRM,
    SetccR, CmovRR, CmovRM, JmpR, JmpM, CallR, CallM,
    ShiftRI, ShiftRC,

    // ---- everything else: ExecSlow
    FetchFault,
    UnaryR, UnaryM,          // Aux: 0 not, 1 neg, 2 inc, 3 dec
    IncDecM,
    ShiftM,                  // Aux: 0 rol .. 7 sar; count from Imm or CL (KCl)
    Shld, Shrd,              // op0 r/m, B = source reg, count Imm or CL
    MulDiv,                  // Aux: 4 mul, 5 imul, 6 div, 7 idiv; op0 r/m
    Imul2, Imul3,            // A = dest reg, source r/m (B or memory), Imm for Imul3
    Bt,                      // Aux: 0 bt, 1 bts, 2 btr, 3 btc; op0 r/m, source B or Imm (KImm)
    Bsf, Bsr, Popcnt, Lzcnt, Tzcnt,   // A = dest, source r/m
    Bswap,
    Xchg, Cmpxchg, Xadd, Cmpxchg8b16b,
    PushM, PopM, PushSeg, PopSeg, Pushf, Popf, Leave, Enter, RetImm,
    CbwCwdeCdqe, CwdCdqCqo,
    Clc, Stc, Cmc, Cld, Std, Lahf, Sahf,
    MovFromSreg, MovToSreg,
    SetccM,
    Movs, Stos, Lods, Cmps, Scas,
    Loop, Jrcxz,             // Loop Aux: 0 loop, 1 loope, 2 loopne
    Xlat,
    Cpuid, Rdtsc, Rdtscp, Syscall, Int3, Int1, IntN, Pause,
    Iretq,
    /// <summary>wait/fwait: #NM while CR0.TS (CR0.MP is set), else nothing (no x87 exception is ever pending).</summary>
    Fwait,
    /// <summary>Far return (lret): Size = operand size, Imm = bytes released.</summary>
    Retf,
    /// <summary>Indirect far call or jmp through an m16:16/32/64 operand: Size = offset size, Aux = 1 for call.</summary>
    FarBranch,
    /// <summary>sidt/sgdt (memory), sldt/str/smsw (register or memory); Aux: 0 sidt, 1 sgdt, 2 sldt, 3 str, 4 smsw.</summary>
    StoreSys,
    /// <summary>rdfsbase/rdgsbase/wrfsbase/wrgsbase; Aux: 0 rdfs, 1 rdgs, 2 wrfs, 3 wrgs; A = register.</summary>
    SegBase,
    Clflush,
    /// <summary>A real #UD (ud0/ud1/ud2, clac/stac at CPL 3); Imm = mnemonic.</summary>
    Ud,
    /// <summary>Privileged at CPL 3: #GP(0).</summary>
    Priv,
    /// <summary>SSE to SSE4.2, AES-NI, PCLMULQDQ, MMX, FXSAVE/XSAVE state (X86Interpreter.Vector.cs); <see cref="Op.Ext"/> is the operation.</summary>
    Vector,
    /// <summary>x87 (X86Interpreter.X87.cs); <see cref="Op.Ext"/> is the operation.</summary>
    X87,
    /// <summary>General-register extensions: CRC32, MOVBE, RDRAND/RDSEED, BMI1/BMI2, ADX (X86Interpreter.ScalarExt.cs); <see cref="Op.Ext"/> is the operation.</summary>
    ScalarExt,
    /// <summary>Not implemented by the interpreter: #UD with the mnemonic as detail; Imm = mnemonic.</summary>
    Unimplemented,
    /// <summary>Undecodable: #UD, detail "invalid".</summary>
    Invalid,
    /// <summary>16/32-bit near call/ret/indirect jmp (X86Interpreter.Hvm.cs); Aux: 0 call rel, 1 call reg, 2 call mem, 3 jmp mem, 4 ret (Imm bytes released).</summary>
    Near32,
}

/// <summary>
/// One pre-decoded instruction: 32 bytes, stored in per-frame arrays indexed by page offset.
/// Registers are encoding numbers 0-15; for byte operands 16-19 are AH, CH, DH, BH.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct Op
{
    public H H;
    public byte Len;
    /// <summary>Operand size in bytes (1, 2, 4, 8; 16 for cmpxchg16b).</summary>
    public byte Size;
    /// <summary>First register operand (destination).</summary>
    public byte A;
    /// <summary>Second register operand (source).</summary>
    public byte B;
    /// <summary>Memory operand base register, <see cref="NoReg"/> or <see cref="RipReg"/>.</summary>
    public byte Base;
    /// <summary>Memory operand index register or <see cref="NoReg"/>.</summary>
    public byte Index;
    /// <summary>Index scale as a shift count.</summary>
    public byte Scale;
    /// <summary><see cref="MfFs"/>, <see cref="MfGs"/>, <see cref="MfStack"/>, <see cref="MfAddr32"/>.</summary>
    public byte MemFlags;
    /// <summary>Condition code, ALU operation, source size, ... depending on <see cref="H"/>.</summary>
    public byte Aux;
    /// <summary>Operand-kind bits (<see cref="KMem"/>, ...) and prefixes for the slow handlers.</summary>
    public byte Kinds;
    public byte Aux2;
    /// <summary>A third register operand (VEX.vvvv, an xmm source, ...) for the extension handlers.</summary>
    public byte C;
    /// <summary>The operation within <see cref="H.Vector"/>, <see cref="H.X87"/> or <see cref="H.ScalarExt"/>.</summary>
    public byte Ext;
    public byte Pad2;
    /// <summary>Memory displacement; for RIP-relative operands and branches, relative to the next instruction.</summary>
    public long Disp;
    public ulong Imm;

    public const byte NoReg = 0xFF, RipReg = 0xFE;
    /// <summary><see cref="Aux2"/> of an unimplemented instruction that uses x87/MMX/SSE/AVX state (#NM while CR0.TS).</summary>
    public const byte Aux2Fpu = 1;
    public const byte MfFs = 1, MfGs = 2, MfSeg = 3, MfStack = 4, MfAddr32 = 8;

    /// <summary>Operand 0 is memory (else register A).</summary>
    public const byte KMem = 1;
    /// <summary>The source is an immediate (Imm).</summary>
    public const byte KImm = 2;
    /// <summary>The count/source is CL.</summary>
    public const byte KCl = 4;
    /// <summary>rep / repe prefix.</summary>
    public const byte KRep = 8;
    /// <summary>repne prefix.</summary>
    public const byte KRepne = 16;
    /// <summary>Source operand is memory (for forms whose destination is a register).</summary>
    public const byte KSrcMem = 32;
}
