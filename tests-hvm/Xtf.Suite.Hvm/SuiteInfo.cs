using Xtf.Guest;

[assembly: XtfSuite("hvm", "HVM conformance suite: the PVH dom0's start state, exceptions through the guest's own IDT, HVM hypercalls and params")]
