using Xtf.Abi;
using static Xtf.Abi.Tests.V;

namespace Xtf.Abi.Tests;

// All layouts from docs/pv-abi.md §13 (Xen 4.17's public grant_table.h and memory.h).
public class GrantStructLayoutTests
{
    [Test]
    public void GrantEntryV1Layout()
    {
        Spec.Layout<GrantEntryV1>(("Size", 8), ("Flags", 0), ("DomId", 2), ("Frame", 4));
        Spec.Codec(new GrantEntryV1 { Flags = W(1), DomId = W(2), Frame = D(3) }, new Image(8).U16(0, W(1)).U16(2, W(2)).U32(4, D(3)).ToArray());
    }

    [Test]
    public void GrantEntryV2Layout()
    {
        Spec.Layout<GrantEntryV2>(("Size", 16), ("Flags", 0), ("DomId", 2), ("Frame", 8));
        Spec.Codec(new GrantEntryV2 { Flags = W(1), DomId = W(2), Frame = Q(3) }, new Image(16).U16(0, W(1)).U16(2, W(2)).U64(8, Q(3)).ToArray());
    }

    [Test]
    public void GnttabSetupTableLayout()
    {
        Spec.Layout<GnttabSetupTable>(("Size", 24), ("Dom", 0), ("NrFrames", 4), ("Status", 8), ("FrameList", 16));
        Spec.Codec(new GnttabSetupTable { Dom = W(1), NrFrames = D(2), Status = unchecked((short)W(3)), FrameList = Q(4) }, new Image(24).U16(0, W(1)).U32(4, D(2)).U16(8, W(3)).U64(16, Q(4)).ToArray());
    }

    [Test]
    public void GnttabQuerySizeLayout()
    {
        Spec.Layout<GnttabQuerySize>(("Size", 16), ("Dom", 0), ("NrFrames", 4), ("MaxNrFrames", 8), ("Status", 12));
        Spec.Codec(new GnttabQuerySize { Dom = W(1), NrFrames = D(2), MaxNrFrames = D(3), Status = unchecked((short)W(4)) }, new Image(16).U16(0, W(1)).U32(4, D(2)).U32(8, D(3)).U16(12, W(4)).ToArray());
    }

    [Test]
    public void GnttabSetVersionLayout()
    {
        Spec.Layout<GnttabSetVersion>(("Size", 4), ("Version", 0));
        Spec.Codec(new GnttabSetVersion { Version = D(1) }, new Image(4).U32(0, D(1)).ToArray());
    }

    [Test]
    public void GnttabGetVersionLayout()
    {
        Spec.Layout<GnttabGetVersion>(("Size", 8), ("Dom", 0), ("Version", 4));
        Spec.Codec(new GnttabGetVersion { Dom = W(1), Version = D(2) }, new Image(8).U16(0, W(1)).U32(4, D(2)).ToArray());
    }

    [Test]
    public void GnttabGetStatusFramesLayout()
    {
        Spec.Layout<GnttabGetStatusFrames>(("Size", 16), ("NrFrames", 0), ("Dom", 4), ("Status", 6), ("FrameList", 8));
        Spec.Codec(new GnttabGetStatusFrames { NrFrames = D(1), Dom = W(2), Status = unchecked((short)W(3)), FrameList = Q(4) }, new Image(16).U32(0, D(1)).U16(4, W(2)).U16(6, W(3)).U64(8, Q(4)).ToArray());
    }

    [Test]
    public void GnttabMapGrantRefLayout()
    {
        Spec.Layout<GnttabMapGrantRef>(("Size", 32), ("HostAddr", 0), ("Flags", 8), ("Ref", 12), ("Dom", 16), ("Status", 18), ("Handle", 20), ("DevBusAddr", 24));
        Spec.Codec(new GnttabMapGrantRef { HostAddr = Q(1), Flags = D(2), Ref = D(3), Dom = W(4), Status = unchecked((short)W(5)), Handle = D(6), DevBusAddr = Q(7) }, new Image(32).U64(0, Q(1)).U32(8, D(2)).U32(12, D(3)).U16(16, W(4)).U16(18, W(5)).U32(20, D(6)).U64(24, Q(7)).ToArray());
    }

    [Test]
    public void GnttabUnmapGrantRefLayout()
    {
        Spec.Layout<GnttabUnmapGrantRef>(("Size", 24), ("HostAddr", 0), ("DevBusAddr", 8), ("Handle", 16), ("Status", 20));
        Spec.Codec(new GnttabUnmapGrantRef { HostAddr = Q(1), DevBusAddr = Q(2), Handle = D(3), Status = unchecked((short)W(4)) }, new Image(24).U64(0, Q(1)).U64(8, Q(2)).U32(16, D(3)).U16(20, W(4)).ToArray());
    }

    [Test]
    public void GnttabUnmapAndReplaceLayout()
    {
        Spec.Layout<GnttabUnmapAndReplace>(("Size", 24), ("HostAddr", 0), ("NewAddr", 8), ("Handle", 16), ("Status", 20));
        Spec.Codec(new GnttabUnmapAndReplace { HostAddr = Q(1), NewAddr = Q(2), Handle = D(3), Status = unchecked((short)W(4)) }, new Image(24).U64(0, Q(1)).U64(8, Q(2)).U32(16, D(3)).U16(20, W(4)).ToArray());
    }

    [Test]
    public void XenMemoryReservationLayout()
    {
        Spec.Layout<XenMemoryReservation>(("Size", 32), ("ExtentStart", 0), ("NrExtents", 8), ("ExtentOrder", 16), ("MemFlags", 20), ("DomId", 24));
        Spec.Codec(new XenMemoryReservation { ExtentStart = Q(1), NrExtents = Q(2), ExtentOrder = D(3), MemFlags = D(4), DomId = W(5) }, new Image(32).U64(0, Q(1)).U64(8, Q(2)).U32(16, D(3)).U32(20, D(4)).U16(24, W(5)).ToArray());
    }

    [Test]
    public void XenMemoryExchangeLayout()
    {
        Spec.Layout<XenMemoryExchange>(("Size", 72), ("In", 0), ("Out", 32), ("NrExchanged", 64));
        var x = new XenMemoryExchange
        {
            In = new XenMemoryReservation { ExtentStart = Q(1), NrExtents = Q(2), ExtentOrder = D(3), MemFlags = D(4), DomId = W(5) },
            Out = new XenMemoryReservation { ExtentStart = Q(6), NrExtents = Q(7), ExtentOrder = D(8), MemFlags = D(9), DomId = W(10) },
            NrExchanged = Q(11),
        };
        Spec.Codec(x, new Image(72).U64(0, Q(1)).U64(8, Q(2)).U32(16, D(3)).U32(20, D(4)).U16(24, W(5))
            .U64(32, Q(6)).U64(40, Q(7)).U32(48, D(8)).U32(52, D(9)).U16(56, W(10)).U64(64, Q(11)).ToArray());
    }
}
