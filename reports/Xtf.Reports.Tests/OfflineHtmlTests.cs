namespace Xtf.Reports.Tests;

/// <summary>
/// OfflineHtml: generated pages lose every element that loads from the network (the Allure page's
/// analytics loader among them) and keep everything else byte for byte. The browser check of real
/// reports is in <see cref="EndToEndTests"/>.
/// </summary>
public sealed class OfflineHtmlTests
{
    private const string Page = """
        <!DOCTYPE html>
        <html><head>
            <link rel="icon" href="data:image/png;base64,AAAA">
            <link rel="preconnect" href='https://fonts.example.test'>
            <script src="data:text/javascript;base64,YWxlcnQoMSk=" title="a > b"></script>
        </head><body>
            <div id="app"></div>
            <script>window.report = {};</script>
            <script async src="https://analytics.example.test/gtag/js?id=X"></script>
            <script>
                window.dataLayer = window.dataLayer || [];
                function gtag(){dataLayer.push(arguments);}
                gtag('config', 'X', { "report": "awesome" });
            </script>
            <script src="//cdn.example.test/lib.js"></script>
            <script src="local.js"></script>
            <a href="https://docs.example.test/help">help</a>
        </body></html>
        """;

    [Test]
    public void RemoteLoadsAndTheGtagScriptGoEverythingElseStays()
    {
        var (html, removed) = OfflineHtml.Strip(Page);
        Assert.That(removed, Has.Count.EqualTo(4), string.Join("\n", removed));
        Assert.That(removed[0], Does.StartWith("<link rel=\"preconnect\""));
        Assert.That(removed[1], Does.Contain("https://analytics.example.test/gtag/js"));
        Assert.That(removed[2], Does.Contain("gtag('config'"));
        Assert.That(removed[3], Does.Contain("//cdn.example.test/lib.js"));

        Assert.That(OfflineHtml.RemoteLoads(html), Is.Empty);
        Assert.That(html, Does.Not.Contain("gtag").And.Not.Contain("example.test/gtag").And.Not.Contain("cdn.example.test"));
        foreach (var kept in new[]
                 {
                     "<link rel=\"icon\" href=\"data:image/png;base64,AAAA\">",
                     "<script src=\"data:text/javascript;base64,YWxlcnQoMSk=\" title=\"a > b\"></script>",
                     "<script>window.report = {};</script>",
                     "<script src=\"local.js\"></script>",
                     "<a href=\"https://docs.example.test/help\">help</a>",
                 })
            Assert.That(html, Does.Contain(kept));
        // Exactly the page minus the removed elements' lines.
        Assert.That(html, Is.EqualTo("""
            <!DOCTYPE html>
            <html><head>
                <link rel="icon" href="data:image/png;base64,AAAA">
                <script src="data:text/javascript;base64,YWxlcnQoMSk=" title="a > b"></script>
            </head><body>
                <div id="app"></div>
                <script>window.report = {};</script>
                <script src="local.js"></script>
                <a href="https://docs.example.test/help">help</a>
            </body></html>
            """));
    }

    [Test]
    public void APageWithNothingRemoteIsUnchanged()
    {
        string page = "<html><body><script>let a = 1 < 2;</script><p>x</p></body></html>\n";
        var (html, removed) = OfflineHtml.Strip(page);
        Assert.That((html, removed.Count), Is.EqualTo((page, 0)));
    }

    [TestCase("https://x.test/a.js", true)]
    [TestCase("HTTP://x.test/", true)]
    [TestCase("//x.test/a.js", true)]
    [TestCase("wss://x.test/socket", true)]
    [TestCase("data:text/plain,hi", false)]
    [TestCase("local.js", false)]
    [TestCase("/abs/local.js", false)]
    [TestCase("file:///tmp/a.html", false)]
    public void WhatCountsAsRemote(string url, bool remote) =>
        Assert.That(OfflineHtml.IsRemote(url), Is.EqualTo(remote));

    [Test]
    public void ApplyRewritesTheHtmlFilesOfAFolder()
    {
        string dir = Directory.CreateTempSubdirectory("xtf-offline-").FullName;
        File.WriteAllText(Path.Combine(dir, "index.html"), Page);
        File.WriteAllText(Path.Combine(dir, "clean.html"), "<p>clean</p>");
        File.WriteAllText(Path.Combine(dir, "data.json"), "{\"u\": \"<script src='https://x.test/a.js'></script>\"}");
        var removed = OfflineHtml.Apply(dir);
        Assert.That(removed, Has.Count.EqualTo(4));
        Assert.That(removed, Is.All.StartWith("index.html: "));
        Assert.That(OfflineHtml.RemoteLoads(File.ReadAllText(Path.Combine(dir, "index.html"))), Is.Empty);
        Assert.That(File.ReadAllText(Path.Combine(dir, "clean.html")), Is.EqualTo("<p>clean</p>"));
        Assert.That(File.ReadAllText(Path.Combine(dir, "data.json")), Does.Contain("https://x.test/a.js"), "only HTML files");
        Assert.That(OfflineHtml.Apply(dir), Is.Empty, "a second pass finds nothing");
        Directory.Delete(dir, true);
    }
}
