using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

using Xtf.Hosting.Xen;

namespace Xtf.Reports.Tests;

/// <summary>
/// Debian's chromium, headless, driven over the DevTools protocol: load a page, let its scripts run,
/// run one expression in it and return the value. Each use has a fresh profile and is killed by PID.
/// The browser has no network: every host name but localhost resolves to nothing and every request
/// that is not to the loopback goes to a closed local proxy port; each request the page attempts to
/// anything but a local file, data, blob or loopback address is recorded (<see cref="PageLoad.RemoteRequests"/>).
/// </summary>
public sealed class HeadlessChromium
{
    public static readonly string[] Flags =
    [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--window-size=1400,20000",
        // No network: names do not resolve, and whatever does not need a name (an IP address) meets a closed port.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost", "--proxy-server=http://127.0.0.1:9",
    ];

    /// <summary>The value of the expression, and every non-local request the page attempted (all of them failed).</summary>
    public sealed record PageLoad(string Value, IReadOnlyList<string> RemoteRequests);

    /// <summary>Local: file, data, blob, about and the browser's own schemes, and the loopback.</summary>
    public static bool IsLocal(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var u)) return false;
        if (u.Scheme is "file" or "data" or "blob" or "about" or "chrome" or "chrome-extension" or "devtools") return true;
        return u.IsLoopback;
    }

    public static string? Find() =>
        new[] { "chromium", "chromium-browser" }.Select(EmulatorProcesses.FindOnPath).FirstOrDefault(p => p is not null);

    /// <summary>The browser, or Inconclusive (Fail under CI) naming what is missing.</summary>
    public static string Require()
    {
        if (Find() is { } path) return path;
        const string reason = "chromium is not installed (fix: bash scripts/setup-report-tools.sh)";
        if (RealXen.InCi) Assert.Fail(reason + " (CI must run the rendering checks)");
        Assert.Inconclusive(reason);
        throw new InvalidOperationException("unreachable");
    }

    /// <summary>Loads <paramref name="url"/> and returns the string value of <paramref name="expression"/> (which may be a promise).</summary>
    public static string Evaluate(string url, string expression, TimeSpan limit) => Load(url, expression, limit).Value;

    /// <summary>Loads <paramref name="url"/>, evaluates <paramref name="expression"/>, and says which remote requests the page tried.</summary>
    public static PageLoad Load(string url, string expression, TimeSpan limit)
    {
        string chromium = Require();
        string profile = Directory.CreateTempSubdirectory("xtf-chromium-").FullName;
        var info = new ProcessStartInfo(chromium) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var f in Flags) info.ArgumentList.Add(f);
        info.ArgumentList.Add($"--user-data-dir={profile}");
        info.ArgumentList.Add("--remote-debugging-port=0");
        info.ArgumentList.Add("about:blank");   // the page is opened once the request log is on
        using var p = Process.Start(info)!;
        p.ErrorDataReceived += (_, _) => { };
        p.OutputDataReceived += (_, _) => { };
        p.BeginErrorReadLine();
        p.BeginOutputReadLine();
        try
        {
            using var cts = new CancellationTokenSource(limit);
            return EvaluateAsync(profile, url, expression, cts.Token).GetAwaiter().GetResult();
        }
        finally
        {
            try { p.Kill(entireProcessTree: true); p.WaitForExit(10_000); } catch (InvalidOperationException) { }
            try { Directory.Delete(profile, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private static async Task<PageLoad> EvaluateAsync(string profile, string url, string expression, CancellationToken cancel)
    {
        string portFile = Path.Combine(profile, "DevToolsActivePort");
        while (!File.Exists(portFile) || new FileInfo(portFile).Length == 0) await Task.Delay(100, cancel);
        int port = int.Parse((await File.ReadAllLinesAsync(portFile, cancel))[0]);
        using var http = new HttpClient();
        string? ws = null;
        while (ws is null)
        {
            var targets = JsonNode.Parse(await http.GetStringAsync($"http://127.0.0.1:{port}/json/list", cancel))!.AsArray();
            ws = targets.Where(t => (string?)t!["type"] == "page").Select(t => (string?)t!["webSocketDebuggerUrl"]).FirstOrDefault();
            if (ws is null) await Task.Delay(100, cancel);
        }

        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri(ws), cancel);
        int next = 0;
        var remote = new List<string>();
        async Task<JsonNode> Call(string method, JsonObject parameters)
        {
            int id = ++next;
            var msg = new JsonObject { ["id"] = id, ["method"] = method, ["params"] = parameters };
            await socket.SendAsync(Encoding.UTF8.GetBytes(msg.ToJsonString()), WebSocketMessageType.Text, true, cancel);
            var buffer = new byte[1 << 16];
            while (true)
            {
                using var ms = new MemoryStream();
                WebSocketReceiveResult r;
                do
                {
                    r = await socket.ReceiveAsync(buffer, cancel);
                    ms.Write(buffer, 0, r.Count);
                } while (!r.EndOfMessage);
                var reply = JsonNode.Parse(ms.ToArray())!;
                if ((string?)reply["method"] == "Network.requestWillBeSent" && (string?)reply["params"]?["request"]?["url"] is { } requested
                    && !IsLocal(requested))
                    remote.Add(requested);
                if ((int?)reply["id"] != id) continue;   // other events and replies
                if (reply["error"] is { } error) throw new InvalidOperationException($"{method}: {error.ToJsonString()}");
                return reply["result"]!;
            }
        }
        await Call("Network.enable", []);
        await Call("Page.navigate", new JsonObject { ["url"] = url });
        // Evaluate in the page, not in the about:blank it replaces: wait until the document is the page's.
        while (true)
        {
            var at = await Call("Runtime.evaluate", new JsonObject { ["expression"] = "location.href", ["returnByValue"] = true });
            if ((string?)at["result"]?["value"] is { } href && href.StartsWith(url, StringComparison.Ordinal)) break;
            await Task.Delay(100, cancel);
        }
        JsonNode result;
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                result = await Call("Runtime.evaluate", new JsonObject
                {
                    ["expression"] = expression,
                    ["awaitPromise"] = true,
                    ["returnByValue"] = true,
                });
                break;
            }
            catch (InvalidOperationException e) when (attempt < 5 && e.Message.Contains("context was destroyed", StringComparison.Ordinal))
            {
                await Task.Delay(500, cancel);   // the page navigated (a single-page app setting its route): run again in the new document
            }
        }
        if (result["exceptionDetails"] is { } ex) throw new InvalidOperationException("page script failed: " + ex.ToJsonString());
        return new PageLoad(result["result"]?["value"]?.ToString() ?? "", remote);
    }

    /// <summary>
    /// Waits until the page has rendered: the document is complete and its visible text has not
    /// changed for a second (single-page apps render after load). Defines settle() for later steps.
    /// </summary>
    public const string SettleScript = """
          const sleep = ms => new Promise(r => setTimeout(r, ms));
          const text = () => document.body ? document.body.innerText : '';
          const settle = async () => {
            let last = -1, same = 0;
            for (let i = 0; i < 120 && same < 4; i++) {
              await sleep(250);
              const n = document.readyState === 'complete' ? text().length : -1;
              same = n === last && n > 0 ? same + 1 : 0;
              last = n;
            }
          };
          await settle();
        """;

    /// <summary>A page's visible text once it has rendered.</summary>
    public const string RenderedTextScript = "(async () => {\n" + SettleScript + "return text();\n})()";

    /// <summary>
    /// Allure's tree with every group opened (it keeps groups without failures closed; a group is
    /// open when a tree-content follows its section), one line per test: "title&lt;TAB&gt;status",
    /// the status read from the leaf's rendered status icon.
    /// </summary>
    public const string AllureLeavesScript = "(async () => {\n" + SettleScript + """
          // Under load the app can sit on a stable loading screen for longer than one settle: wait
          // (bounded, 60 s) until the tree itself exists, then let it settle again.
          for (let i = 0; i < 240 && !document.querySelector('[data-testid="tree-section"], [data-testid="tree-leaf"]'); i++)
            await sleep(250);
          await settle();
          for (let round = 0; round < 12; round++) {
            const closed = [...document.querySelectorAll('[data-testid="tree-section"]')]
              .filter(s => !(s.nextElementSibling && s.nextElementSibling.getAttribute('data-testid') === 'tree-content'));
            if (closed.length === 0) break;
            closed.forEach(s => s.querySelector('[data-testid="tree-section-title"]').click());
            await settle();
          }
          return [...document.querySelectorAll('[data-testid="tree-leaf"]')].map(leaf => {
            const title = leaf.querySelector('[data-testid="tree-leaf-title"]');
            const icon = leaf.querySelector('[data-testid^="tree-leaf-status-"]');
            return (title ? title.innerText.trim() : '?') + '\t' + (icon ? icon.getAttribute('data-testid').slice('tree-leaf-status-'.length) : '?');
          }).join('\n');
        })()
        """;
}
