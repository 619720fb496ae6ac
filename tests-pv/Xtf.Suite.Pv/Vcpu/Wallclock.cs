using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Vcpu;

/// <summary>
/// The wallclock in shared_info (docs/pv-abi.md §3.3, docs/dom0.md §2.12): read under its version seqlock the
/// version is even and non-zero, wc_sec is a date after 2020, wc_nsec is below 10^9 and
/// wc_sec_hi is 0; the boot wallclock does not move across a yield and a block. The values
/// themselves are not printed.
/// </summary>
public sealed class Wallclock : XtfTest
{
    public override string Name => "time-wallclock";
    public override string Title => "shared_info wallclock: wc_version, wc_sec, wc_nsec";
    public override string Category => "time";

    public override void Body(GuestProgram g)
    {
        var si = g.SharedInfo;
        var ver = si.U32(SharedInfo.Layout.WcVersion);
        var v1 = g.Var("v1");
        var v2 = g.Var("v2");
        var sec = g.Var("sec");
        var nsec = g.Var("nsec");
        var hi = g.Var("sec_hi");
        var tries = g.Var("tries");

        void Read()
        {
            g.Set(tries, 0);
            g.While(Val.Const(1) == 1, () =>
            {
                g.Set(tries, tries + 1);
                g.Set(v1, ver);
                g.Set(sec, si.U32(SharedInfo.Layout.WcSec));
                g.Set(nsec, si.U32(SharedInfo.Layout.WcNsec));
                g.Set(hi, si.U32(SharedInfo.Layout.WcSecHi));
                g.Set(v2, ver);
                g.If(((v1 == v2) & v1.NoBits(1)) | (tries > 1000), () => g.Break());
            });
        }

        Read();
        g.Expect(tries <= 1000, "a stable wc_version within 1000 reads");
        g.Expect((v1 != 0) & v1.NoBits(1), "wc_version is even and non-zero");
        g.Expect(sec.UGe(1_577_836_800), "wc_sec is after 2020-01-01");
        g.Expect(nsec.ULt(1_000_000_000), "wc_nsec is below one second");
        g.ExpectEq(hi, 0, "wc_sec_hi is 0");

        var sec0 = g.Var("sec0");
        var nsec0 = g.Var("nsec0");
        var ver0 = g.Var("ver0");
        g.Set(sec0, sec);
        g.Set(nsec0, nsec);
        g.Set(ver0, v1);
        g.SchedOp(SchedOp.Yield, 0);
        TimerEvents.BlockFor(g, 5_000_000);
        Read();
        g.ExpectEq(v1, ver0, "wc_version unchanged (nobody set the time)");
        g.Expect((sec == sec0) & (nsec == nsec0), "the boot wallclock did not move");
        g.Print("wallclock: version even, plausible date\n");
        g.Success();
    }
}
