using System.Buffers.Binary;
using System.Text;
using Xtf.Sim.Memory;

namespace Xtf.Sim.Builder;

/// <summary>One guest e820 entry: [Start, End), Xen's type numbers (1 RAM, 2 reserved, 3 ACPI, 5 unusable).</summary>
public readonly record struct E820Entry(ulong Start, ulong End, uint Type);

/// <summary>A PVH dom0 as Xen 4.17 leaves it at its entry point (docs/hvm.md §1).</summary>
public sealed record PvhDom0(
    ulong NrPages,
    IReadOnlyList<E820Entry> MemoryMap,
    ulong Entry,
    ulong StartInfo,
    ulong CommandLine,
    ulong Rsdp,
    ulong KernelStart,
    ulong KernelEnd,
    bool Elf64,
    IReadOnlyList<string> BuildLog)
{
    /// <summary>The last guest frame holding RAM (XENMEM_maximum_gpfn).</summary>
    public ulong MaxGpfn => MemoryMap.Where(e => e.Type == 1).Max(e => (e.End - 1) >> 12);
}

/// <summary>
/// Xen's PVH dom0 builder (xen/arch/x86/hvm/dom0_build.c: dom0_construct_pvh, pvh_setup_p2m /
/// pvh_setup_e820, pvh_load_kernel, pvh_setup_cpus, pvh_setup_acpi). Guest-physical memory is the
/// <see cref="MachineMemory"/> it is given, indexed by guest frame (the model's p2m is the identity).
/// </summary>
public static class PvhDom0Builder
{
    public const uint StartInfoMagic = 0x336E_C578;
    public const int StartInfoSize = 56;
    private const uint NoteXen = 18;   // XEN_ELFNOTE_PHYS32_ENTRY

    /// <summary>
    /// Guest frames the model addresses: the 4 GiB below the top of the 32-bit space, so that the LAPIC, IO-APIC
    /// and HPET pages are frames like any other (filled by <see cref="WriteMmioPages"/>; frames are materialised on first use).
    /// </summary>
    public static ulong GuestFrames(MachineProfile profile) => 0x10_0000;

    public const ulong LapicBase = 0xFEE0_0000, IoApicBase = 0xFEC0_0000, HpetBase = 0xFED0_0000;

    /// <summary>
    /// The MMIO pages a PVH dom0 may read: Xen's vLAPIC in xAPIC mode at its reset values (vlapic_reset:
    /// version 0x50014, DFR all ones, SVR 0xff, LVTs masked), and bare MMIO (all ones) for the IO-APIC window
    /// and the HPET, which this model does not emulate.
    /// </summary>
    public static void WriteMmioPages(MachineMemory memory, int vcpu)
    {
        memory.WriteU32(LapicBase + 0x20, (uint)(2 * vcpu) << 24);
        memory.WriteU32(LapicBase + 0x30, 0x0005_0014);
        memory.WriteU32(LapicBase + 0xE0, 0xFFFF_FFFF);
        memory.WriteU32(LapicBase + 0xF0, 0xFF);
        for (ulong r = 0x320; r <= 0x370; r += 0x10) memory.WriteU32(LapicBase + r, 0x1_0000);
        memory.Fill(IoApicBase, 0xFF, MachineMemory.PageSize);
        memory.Fill(HpetBase, 0xFF, MachineMemory.PageSize);
    }

    public static PvhDom0 Build(ReadOnlyMemory<byte> kernel, string dom0CommandLine, MachineProfile profile, MachineMemory memory)
    {
        ArgumentNullException.ThrowIfNull(profile);
        ArgumentNullException.ThrowIfNull(memory);
        if (profile.LowRamFrames != profile.RamFrames)
            throw new NotSupportedException("a PVH dom0 with RAM above 4 GiB");
        var log = new List<string> { "*** Building a PVH Dom0 ***" };
        for (ulong v = 0; v < 256; v++) memory.WriteU32(v * 4, profile.PvhLowIvtEntry);   // pvh_setup_p2m copies the low 1 MiB
        ulong nr = profile.PvhNrPages;

        // pvh_setup_e820: RAM rounded inward to pages and clamped to nr_pages; the rest of RAM unusable.
        var map = new List<E820Entry>();
        ulong left = nr;
        foreach (var (s, e, t) in profile.HostE820)
        {
            if (t != 1) { map.Add(new E820Entry(s, e, t)); continue; }
            ulong rs = (s + 0xFFF) & ~0xFFFUL, re = e & ~0xFFFUL;
            ulong pages = Math.Min(left, (re - rs) >> 12);
            if (pages > 0) map.Add(new E820Entry(rs, rs + (pages << 12), 1));
            if (rs + (pages << 12) < re) map.Add(new E820Entry(rs + (pages << 12), re, 5));
            left -= pages;
        }

        // pvh_load_kernel: the ELF image at its physical addresses; only PHYS32_ENTRY is required.
        var elf = kernel.Span;
        if (!ParseElf(elf, out bool is64, out var loads, out ulong? entry) || entry is null)
        {
            log.Add(entry is null && loads.Count > 0 ? "Unable to find XEN_ELFNOTE_PHYS32_ENTRY address" : "Unable to parse kernel for ELFNOTES");
            log.Add("Failed to load Dom0 kernel");
            log.AddRange(DomainBuildException.PanicBlock(DomainBuildException.CouldNotConstruct));
            throw new DomainBuildException(log[1], log);
        }
        ulong kstart = ulong.MaxValue, kend = 0;
        foreach (var (off, paddr, filesz, memsz) in loads)
        {
            if (paddr + memsz > profile.LowRamFrames << 12) throw new NotSupportedException("a PVH kernel loaded beyond RAM");
            memory.Write(paddr, elf.Slice((int)off, (int)filesz));
            if (memsz > filesz) memory.Fill(paddr + filesz, 0, (int)(memsz - filesz));
            kstart = Math.Min(kstart, paddr);
            kend = Math.Max(kend, paddr + memsz);
        }

        // The ACPI tables (pvh_setup_acpi): MADT, XSDT, RSDP carved from the end of the last RAM entry below 4 GiB.
        int madtSize = 44 + 12 * MachineProfile.MadtIoApics + 10 * MachineProfile.MadtOverrides + 16 * profile.Dom0Vcpus;
        const int xsdtSize = 36 + 8 * 2, rsdpSize = 36;
        int ramIdx = map.FindLastIndex(e => e.Type == 1 && e.End <= 0x1_0000_0000);
        ulong x = map[ramIdx].End;
        ulong madt = x - (ulong)madtSize, xsdt = madt - xsdtSize, rsdp = xsdt - rsdpSize;
        map[ramIdx] = map[ramIdx] with { End = rsdp };
        // 4.17's merge quirk: the entry is prepended with the RSDP's start but keeps the MADT's size.
        map.Insert(ramIdx + 1, new E820Entry(rsdp, rsdp + (ulong)madtSize, 3));
        WriteAcpi(memory, profile, rsdp, xsdt, madt, madtSize);

        // hvm_start_info and the command line: after the kernel (the first RAM above 1 MiB that fits).
        int align = is64 ? 8 : 4;
        ulong at = (kend + 0xFFF) & ~0xFFFUL;
        byte[] cmd = Encoding.Latin1.GetBytes(Dom0CommandLine.Cook(dom0CommandLine ?? ""));
        ulong cmdAddr = at;
        memory.Write(cmdAddr, cmd);
        memory.WriteU8(cmdAddr + (ulong)cmd.Length, 0);
        at += (ulong)((cmd.Length + 1 + align - 1) / align * align);
        ulong si = at;
        Span<byte> b = stackalloc byte[StartInfoSize];
        b.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(b, StartInfoMagic);
        BinaryPrimitives.WriteUInt32LittleEndian(b[4..], 0);        // version (measured 0)
        BinaryPrimitives.WriteUInt32LittleEndian(b[8..], 3);        // SIF_PRIVILEGED | SIF_INITDOMAIN
        BinaryPrimitives.WriteUInt64LittleEndian(b[24..], cmdAddr);
        BinaryPrimitives.WriteUInt64LittleEndian(b[32..], rsdp);
        memory.Write(si, b);

        WriteMmioPages(memory, 0);
        log.Add("WARNING: PVH is an experimental mode with limited functionality");
        return new PvhDom0(nr, map, entry.Value, si, cmdAddr, rsdp, kstart, kend, is64, log);
    }

    /// <summary>Program headers (PT_LOAD at p_paddr) and the PHYS32_ENTRY note of an ELF32 or ELF64 image.</summary>
    internal static bool ParseElf(ReadOnlySpan<byte> f, out bool is64, out List<(ulong Off, ulong Paddr, ulong FileSz, ulong MemSz)> loads, out ulong? entry)
    {
        loads = [];
        entry = null;
        is64 = false;
        if (f.Length < 52 || f[0] != 0x7F || f[1] != (byte)'E' || f[2] != (byte)'L' || f[3] != (byte)'F' || f[5] != 1) return false;
        is64 = f[4] == 2;
        if (!is64 && f[4] != 1) return false;
        ulong phoff = is64 ? BinaryPrimitives.ReadUInt64LittleEndian(f[32..]) : BinaryPrimitives.ReadUInt32LittleEndian(f[28..]);
        int phentsize = BinaryPrimitives.ReadUInt16LittleEndian(f[(is64 ? 54 : 42)..]);
        int phnum = BinaryPrimitives.ReadUInt16LittleEndian(f[(is64 ? 56 : 44)..]);
        for (int i = 0; i < phnum; i++)
        {
            ulong p = phoff + (ulong)(i * phentsize);
            if (p + (ulong)phentsize > (ulong)f.Length) return false;
            var h = f[(int)p..];
            uint type = BinaryPrimitives.ReadUInt32LittleEndian(h);
            ulong off, paddr, filesz, memsz;
            if (is64)
            {
                off = BinaryPrimitives.ReadUInt64LittleEndian(h[8..]);
                paddr = BinaryPrimitives.ReadUInt64LittleEndian(h[24..]);
                filesz = BinaryPrimitives.ReadUInt64LittleEndian(h[32..]);
                memsz = BinaryPrimitives.ReadUInt64LittleEndian(h[40..]);
            }
            else
            {
                off = BinaryPrimitives.ReadUInt32LittleEndian(h[4..]);
                paddr = BinaryPrimitives.ReadUInt32LittleEndian(h[12..]);
                filesz = BinaryPrimitives.ReadUInt32LittleEndian(h[16..]);
                memsz = BinaryPrimitives.ReadUInt32LittleEndian(h[20..]);
            }
            if (off + filesz > (ulong)f.Length) return false;
            if (type == 1 && memsz > 0) loads.Add((off, paddr, filesz, memsz));
            if (type == 4) entry ??= FindNote(f.Slice((int)off, (int)filesz));
        }
        return loads.Count > 0;
    }

    private static ulong? FindNote(ReadOnlySpan<byte> n)
    {
        int i = 0;
        while (i + 12 <= n.Length)
        {
            int namesz = (int)BinaryPrimitives.ReadUInt32LittleEndian(n[i..]);
            int descsz = (int)BinaryPrimitives.ReadUInt32LittleEndian(n[(i + 4)..]);
            uint type = BinaryPrimitives.ReadUInt32LittleEndian(n[(i + 8)..]);
            int name = i + 12, desc = name + ((namesz + 3) & ~3);
            if (namesz < 0 || descsz < 0 || desc + descsz > n.Length) return null;
            if (type == NoteXen && namesz >= 3 && n[name] == 'X' && n[name + 1] == 'e' && n[name + 2] == 'n' && descsz >= 4)
                return descsz >= 8 ? BinaryPrimitives.ReadUInt64LittleEndian(n[desc..]) : BinaryPrimitives.ReadUInt32LittleEndian(n[desc..]);
            i = desc + ((descsz + 3) & ~3);
        }
        return null;
    }

    /// <summary>RSDP (revision 2), an XSDT listing the MADT and the host FADT, and Xen's MADT (one LAPIC per vCPU).</summary>
    private static void WriteAcpi(MachineMemory memory, MachineProfile profile, ulong rsdp, ulong xsdt, ulong madt, int madtSize)
    {
        var r = new byte[36];
        Encoding.ASCII.GetBytes("RSD PTR ").CopyTo(r, 0);
        Encoding.ASCII.GetBytes("BOCHS ").CopyTo(r, 9);
        r[15] = 2;
        BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(20), 36);
        BinaryPrimitives.WriteUInt64LittleEndian(r.AsSpan(24), xsdt);
        r[8] = Checksum(r.AsSpan(0, 20));
        r[32] = Checksum(r);
        memory.Write(rsdp, r);

        var x = new byte[36 + 16];
        Header(x, "XSDT", 1);
        BinaryPrimitives.WriteUInt64LittleEndian(x.AsSpan(36), madt);
        BinaryPrimitives.WriteUInt64LittleEndian(x.AsSpan(44), profile.HostFadtAddress);
        x[9] = Checksum(x);
        memory.Write(xsdt, x);

        var m = new byte[madtSize];
        Header(m, "APIC", 4);
        BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(36), 0xFEE0_0000);
        int o = 44;
        m[o] = 1; m[o + 1] = 12; BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(o + 4), 0xFEC0_0000); o += 12;
        (byte Src, uint Gsi, ushort Flags)[] overrides = [(0, 2, 0), (5, 5, 0xD), (9, 9, 0xD), (10, 10, 0xD), (11, 11, 0xD)];
        foreach (var (src, gsi, flags) in overrides)
        {
            m[o] = 2; m[o + 1] = 10; m[o + 3] = src;
            BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(o + 4), gsi);
            BinaryPrimitives.WriteUInt16LittleEndian(m.AsSpan(o + 8), flags);
            o += 10;
        }
        for (int v = 0; v < profile.Dom0Vcpus && o + 16 <= m.Length; v++)
        {
            m[o] = 9; m[o + 1] = 16;
            BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(o + 4), (uint)(v * 2));
            BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(o + 8), v == 0 ? 1u : 0u);
            BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(o + 12), (uint)v);
            o += 16;
        }
        m[9] = Checksum(m);
        memory.Write(madt, m);

        void Header(byte[] t, string sig, byte rev)
        {
            Encoding.ASCII.GetBytes(sig).CopyTo(t, 0);
            BinaryPrimitives.WriteUInt32LittleEndian(t.AsSpan(4), (uint)t.Length);
            t[8] = rev;
            Encoding.ASCII.GetBytes("BOCHS BXPC    ").CopyTo(t, 10);
            BinaryPrimitives.WriteUInt32LittleEndian(t.AsSpan(24), 1);
            Encoding.ASCII.GetBytes("BXPC").CopyTo(t, 28);
            BinaryPrimitives.WriteUInt32LittleEndian(t.AsSpan(32), 1);
        }
    }

    private static byte Checksum(ReadOnlySpan<byte> s)
    {
        byte sum = 0;
        foreach (var v in s) sum += v;
        return (byte)-sum;
    }
}
