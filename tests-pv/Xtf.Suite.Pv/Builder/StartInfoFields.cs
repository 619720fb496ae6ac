using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Builder;

/// <summary>
/// start_info as Xen's dom0 builder fills it (docs/dom0.md §2.9): the "p" magic of a PAE kernel,
/// flags PRIVILEGED|INITDOMAIN with the power-management bits (0x303 measured), nr_pages equal to
/// the current reservation, a page-aligned shared_info whose other vCPUs' upcall masks are set, no
/// xenstore, the dom0 VGA console info appended at offset 0x490 (text mode 3, 80x25, font 16), no
/// module, first_p2m_pfn = the pages of the initial block (the mapping rounded up to a power of two), and the dom0 command line
/// with its inner spacing kept.
/// </summary>
public sealed class BuilderStartInfo : XtfTest
{
    public const string Words = "alpha  beta=1 gamma";

    public override string Name => "builder-start-info";
    public override string Title => "dom0 builder: start_info fields";
    public override string Category => "builder";
    public override string? CommandLine => Words;

    public override void Body(GuestProgram g)
    {
        var si = g.StartInfo;
        Val F(int offset, int width = 8) => BuilderKit.Field(g, offset, width);

        g.Print("magic: %s\n", si);
        g.Expect(g.BytesAre(si, "xen-3.0-x86_64p\0"), "magic is \"xen-3.0-x86_64p\" (PAE_MODE yes)");
        g.ExpectEq(F(16) | F(24), 0, "magic is NUL-padded to 32 bytes");
        g.ExpectEq(F(StartInfo.Layout.Flags, 4), (long)(SifFlags.Privileged | SifFlags.InitDomain) | 0x300,
            "flags = SIF_PRIVILEGED|SIF_INITDOMAIN|PM bits 0x300");

        var nr = BuilderKit.NrPages(g);
        g.Print("nr_pages %u\n", nr);
        g.ExpectEq(BuilderKit.ReservationOp(g, MemoryOp.CurrentReservation), nr, "nr_pages = XENMEM_current_reservation");

        var shared = F(StartInfo.Layout.SharedInfo);
        g.ExpectEq(shared & 0xFFF, 0, "shared_info is a page-aligned machine address");
        g.ExpectNe(shared, 0, "shared_info is set");
        for (int v = 1; v < 32; v += 10)
            g.ExpectEq(g.UpcallMask(v), 1, $"vcpu_info[{v}].evtchn_upcall_mask is 1");

        g.ExpectEq(F(StartInfo.Layout.StoreMfn), 0, "store_mfn = 0 for dom0");
        g.ExpectEq(F(StartInfo.Layout.StoreEvtchn, 4), 0, "store_evtchn = 0 for dom0");
        g.ExpectEq(F(StartInfo.Layout.ConsoleInfoOff, 4), StartInfo.Layout.Size, "console.dom0.info_off = sizeof(start_info)");
        g.ExpectEq(F(StartInfo.Layout.ConsoleInfoSize, 4), Dom0VgaConsoleInfo.Layout.Size, "console.dom0.info_size = 40");
        Val Vga(int offset, int width) => F(StartInfo.Layout.Size + offset, width);
        g.ExpectEq(Vga(Dom0VgaConsoleInfo.Layout.VideoType, 1), 3, "VGA info: text mode 3");
        g.ExpectEq(Vga(Dom0VgaConsoleInfo.Layout.FontHeight, 2), 16, "VGA info: font height 16");
        g.ExpectEq(Vga(Dom0VgaConsoleInfo.Layout.Rows, 2), 25, "VGA info: 25 rows");
        g.ExpectEq(Vga(Dom0VgaConsoleInfo.Layout.Columns, 2), 80, "VGA info: 80 columns");

        g.ExpectEq(F(StartInfo.Layout.ModStart) | F(StartInfo.Layout.ModLen), 0, "no module: mod_start = mod_len = 0");
        var block = BuilderKit.BlockPages(g, BuilderKit.MappedEnd(g, g.BootStackPointer));
        g.ExpectEq(F(StartInfo.Layout.FirstP2mPfn), block, "first_p2m_pfn = pages of the initial block");
        g.ExpectEq(F(StartInfo.Layout.NrP2mFrames), 0, "nr_p2m_frames = 0 without INIT_P2M");

        var cmd = si + StartInfo.Layout.CmdLine;
        g.Print("cmd_line: \"%s\"\n", cmd);
        g.Expect(g.BytesAre(cmd, Words + "\0"), "cmd_line is the dom0 command line, spacing kept");
        var i = g.Var("i");
        var nonzero = g.Var("nonzero");
        g.For(i, Words.Length, StartInfo.CmdLineLength, () => g.Set(nonzero, nonzero | Val.At(cmd + i, 0, 1)));
        g.ExpectEq(nonzero, 0, "cmd_line is zero after the string");
        g.Success();
    }
}
