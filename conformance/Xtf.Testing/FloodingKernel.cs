using Iced.Intel;
using Xtf.Guest;

namespace Xtf.Testing;

/// <summary>
/// Issue 14's flooding guest: one changed byte in a generated kernel makes every console flush call
/// console_io with a huge count. The runtime's flush loads the line length (`mov rsi, [len]`) and
/// passes the line buffer (`mov edx, buf`); the mutant loads rsi from the buffer instead, so the count
/// is eight bytes of text ("--- Xen " is 0x206e6558202d2d2d, truncated by Xen to 0x202d2d2d). Each
/// flush then copies everything mapped after the buffer until a chunk faults (about 3 MiB, the rest of
/// the initial mapping), on real Xen as on the simulator.
/// </summary>
public static class FloodingKernel
{
    public static byte[] From(KernelImage image)
    {
        var k = new LoadedKernel(image);
        var code = k.Decode();
        ulong consoleIo = GuestLayout.StubAddress((int)Abi.Hypercall.ConsoleIo);
        // The runtime's flush: mov rsi, [len]; test rsi, rsi; jz; xor edi, edi; mov edx, buf; call console_io.
        var sites = Enumerable.Range(5, Math.Max(0, code.Count - 5))
            .Where(i => code[i].Mnemonic == Mnemonic.Call && code[i].NearBranchTarget == consoleIo
                        && code[i - 1].Code == Code.Mov_r32_imm32 && code[i - 1].Op0Register == Register.EDX
                        && code[i - 5].Code == Code.Mov_r64_rm64 && code[i - 5].Op0Register == Register.RSI
                        && code[i - 5].MemoryBase == Register.None)
            .ToList();
        if (sites.Count != 1) throw new InvalidOperationException($"{image.Name}: {sites.Count} console flushes found, expected one");
        var load = code[sites[0] - 5];
        uint buffer = code[sites[0] - 1].Immediate32;

        // The load's disp32 is its last four bytes (no immediate follows it).
        var bytes = (byte[])image.Bytes.Clone();
        int fileAt = checked((int)(k.Load.Offset + (load.NextIP - k.Load.VirtualAddress))) - 4;
        if (BitConverter.ToUInt32(bytes, fileAt) != (uint)load.MemoryDisplacement64) throw new InvalidOperationException("the load's displacement is not where expected");
        BitConverter.TryWriteBytes(bytes.AsSpan(fileAt, 4), buffer);
        return bytes;
    }
}
