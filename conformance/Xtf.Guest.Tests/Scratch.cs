namespace Xtf.Guest.Tests;
public class Scratch { [Test, Explicit] public void Dump() { var k = new LoadedKernel(Kernels.Get("test-pv64-example")); foreach (var i in k.Decode().Take(30)) TestContext.Out.WriteLine($"{i.IP:x} {i.Code} {i}"); } }
