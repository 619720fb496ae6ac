using Xtf.Guest;

[assembly: XtfSuite("pv", "PV conformance suite: VCPUOP, SCHEDOP, event channels, time, Xen's dom0 builder")]
