using Xtf.Sim.Cpu;

namespace Xtf.Sim.Hvm;

// Exception and interrupt delivery through the guest's IDT, as the CPU does it for an event Xen injects
// (hvm_inject_event → the SVM EVENTINJ field; Intel SDM vol. 3 §6.12 / AMD APM vol. 2 §8.9): 32-bit and
// 64-bit gates, stack switches through the TSS (rsp0/esp0, IST), error codes, #DF on a failed delivery
// and a triple fault (domain crash) on a failed #DF.
internal sealed partial class HvmMachine
{

    /// <summary>Delivers a fault or trap whose return address is the current rip.</summary>
    private void Inject(int vector, uint? error, bool soft) => Raise(vector, error, soft, cpu.Rip);

    private static bool Contributory(int v) => v is 0 or 10 or 11 or 12 or 13;

    /// <summary>
    /// Delivers an event; a fault while delivering it is delivered instead, or becomes #DF when both are
    /// contributory (or a #PF follows a #PF or contributory one), and a fault delivering #DF is a triple fault.
    /// </summary>
    private void Raise(int vector, uint? error, bool soft, ulong returnRip, ulong? faultRip = null)
    {
        for (int depth = 0; depth < 3 && !shutdown; depth++)
        {
            if (Deliver(vector, error, soft, returnRip, out int fv, out uint fe)) return;
            if (faultRip is { } fr) { cpu.Rip = fr; faultRip = null; }   // a trap that could not be delivered faults at its instruction
            if (vector == 8) break;
            bool first = !soft && (Contributory(vector) || vector == 14);
            bool second = Contributory(fv) || fv == 14;
            if (first && second && !(vector != 14 && fv == 14)) { vector = 8; error = 0; }
            else { vector = fv; error = fv is 10 or 11 or 12 or 13 or 14 or 17 ? fe : null; }
            soft = false;
            returnRip = cpu.Rip;
        }
        TripleFault();
    }

    /// <summary>int n / int3 / into: the gate's DPL must admit the current CPL, else #GP(vector·8 + 2).</summary>
    private void InjectSoft(int vector, ulong returnRip, ulong? start = null)
    {
        if (ReadGate(vector, out var g) && g.Dpl < cpu.Cpl)
        {
            cpu.Rip = start ?? (ReadU(returnRip - 2, 2, out ulong b0) && (b0 & 0xFF) == 0xCD ? returnRip - 2 : returnRip - 1);
            Inject(13, (uint)(vector * 8 + 2), false);
            return;
        }
        // A fault while delivering it is reported at the instruction: int n is CD nn, int3/into one byte.
        ulong at = start ?? (ReadU(returnRip - 2, 2, out ulong b) && (b & 0xFF) == 0xCD && (b >> 8) == (ulong)vector ? returnRip - 2 : returnRip - 1);
        if (Deliver(vector, null, true, returnRip, out int fv, out uint fe)) return;
        cpu.Rip = at;
        Raise(fv, fv is 10 or 11 or 12 or 13 or 14 ? fe : null, false, at);
    }

    private void TripleFault()
    {
        // hvm_triple_fault: the domain's triple-fault action (reboot by default; for dom0 the host).
        trace.Note("triple fault");
        serial.Xen($"d0v0 Triple fault - invoking HVM shutdown action 1");
        Shutdown(1);
    }

    private readonly record struct Gate(ulong Offset, ushort Selector, int Type, int Dpl, bool Present, int Ist);

    private bool ReadGate(int vector, out Gate g)
    {
        g = default;
        bool lm = (cpu.Efer & 0x400) != 0;
        int size = lm ? 16 : 8;
        if ((ulong)(vector * size + size - 1) > cpu.IdtrLimit) return false;
        Span<byte> b = stackalloc byte[16];
        if (!ReadLinear(cpu.IdtrBase + (ulong)(vector * size), b[..size])) return false;
        ulong lo = BitConverter.ToUInt64(b);
        ulong off = (lo & 0xFFFF) | ((lo >> 32) & 0xFFFF_0000);
        if (lm) off |= (ulong)BitConverter.ToUInt32(b[8..]) << 32;
        int access = (int)(lo >> 40) & 0xFF;
        g = new Gate(off, (ushort)(lo >> 16), access & 0xF, (access >> 5) & 3, (access & 0x80) != 0, lm ? (int)(lo >> 32) & 7 : 0);
        return true;
    }

    private bool Deliver(int vector, uint? error, bool soft, ulong returnRip, out int fv, out uint fe)
    {
        var c = cpu;
        uint ext = soft ? 0u : 1u;
        fv = 13;
        fe = (uint)(vector * 8 + 2) | ext;
        bool lm = (c.Efer & 0x400) != 0;
        if (!ReadGate(vector, out var g)) return false;
        bool intGate = g.Type is 0xE or 0x6;
        bool validType = lm ? g.Type is 0xE or 0xF : g.Type is 0xE or 0xF or 0x6 or 0x7;
        if (!validType) return false;
        if (!g.Present) { fv = 11; return false; }
        fe = (uint)(g.Selector & 0xFFFC) | ext;
        if (!CodeDescriptorQuiet(g.Selector, out ulong d)) return false;
        fv = 12;
        int dpl = (int)(d >> 45) & 3;
        bool conforming = (d & (1UL << 42)) != 0;
        int newCpl = conforming ? c.Cpl : dpl;
        if (newCpl > c.Cpl) return false;   // #GP(selector)

        ulong flags = c.Rflags;
        ulong oldSs = c.Ss, oldSp = c[Reg.Rsp], oldCs = c.Cs;
        ulong sp = oldSp;
        ushort newSs = c.Ss;
        bool switchStack = newCpl < c.Cpl || (lm && g.Ist != 0);
        if (lm)
        {
            ulong at = g.Ist != 0 ? 0x24 + 8 * (ulong)(g.Ist - 1) : 4 + 8 * (ulong)newCpl;
            if (g.Ist != 0 || newCpl < c.Cpl)
            {
                fv = 10;
                fe = (uint)(c.Tr & 0xFFFC) | ext;
                if (at + 7 > c.TrLimit || !ReadU(c.TrBase + at, 8, out sp)) return false;
                fv = 12;
                fe = ext;
            }
            if (newCpl < c.Cpl) newSs = (ushort)newCpl;
            sp &= ~0xFUL;
            if (!Push8(ref sp, oldSs) || !Push8(ref sp, oldSp) || !Push8(ref sp, flags) || !Push8(ref sp, oldCs) || !Push8(ref sp, returnRip))
                return false;
            if (error is { } e1 && !Push8(ref sp, e1)) return false;
        }
        else
        {
            int w = g.Type is 0xE or 0xF ? 4 : 2;
            if (newCpl < c.Cpl)
            {
                ulong at = 4 + 8 * (ulong)newCpl;
                fv = 10;
                fe = (uint)(c.Tr & 0xFFFC) | ext;
                if (at + 5 > c.TrLimit || !ReadU(c.TrBase + at, 4, out sp) || !ReadU(c.TrBase + at + 4, 2, out ulong ss0)) return false;
                fv = 12;
                fe = ext;
                newSs = (ushort)ss0;
                sp = (uint)sp;
                sp -= (ulong)w; if (!WriteU(sp, w, oldSs)) return false;
                sp -= (ulong)w; if (!WriteU(sp, w, oldSp)) return false;
            }
            else sp = (uint)sp;
            sp -= (ulong)w; if (!WriteU(sp, w, flags)) return false;
            sp -= (ulong)w; if (!WriteU(sp, w, oldCs)) return false;
            sp -= (ulong)w; if (!WriteU(sp, w, returnRip)) return false;
            if (error is { } e)
            {
                sp -= (ulong)w; if (!WriteU(sp, w, e)) return false;
            }
        }
        _ = switchStack;
        c.Ss = newSs;
        c[Reg.Rsp] = sp;
        LoadCs(g.Selector, d, newCpl);
        c.Rip = lm ? g.Offset : (uint)g.Offset;
        ulong nf = flags & ~(CpuState.FlagTf | CpuState.FlagNt | CpuState.FlagRf | CpuState.FlagVm);
        if (intGate) nf &= ~CpuState.FlagIf;
        c.Rflags = nf;
        interp.SyncHvm(c);
        return true;
    }

    private bool Push8(ref ulong sp, ulong v)
    {
        sp -= 8;
        return WriteU(sp, 8, v);
    }

    private bool CodeDescriptorQuiet(ushort sel, out ulong d)
    {
        d = 0;
        if ((sel & ~3) == 0) return false;
        if (Read(sel, out d, out _) != Xtf.Sim.Cpu.DescriptorLookup.Found) return false;
        return (d & (1UL << 44)) != 0 && (d & (1UL << 43)) != 0 && (d & (1UL << 47)) != 0;
    }
}
