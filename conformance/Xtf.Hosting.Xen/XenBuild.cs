using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

using Xtf.Hosting;

namespace Xtf.Hosting.Xen;

/// <summary>
/// A hypervisor image ready for QEMU's -kernel: Debian ships xen.gz, which QEMU's multiboot
/// loader refuses, so a .gz is gunzipped once into a cache keyed by its content hash.
/// </summary>
public sealed partial record XenBuild(string SourcePath, string KernelPath, string? Version, bool? Debug)
{
    public const string DebianDefault = "/boot/xen-4.17-amd64.gz";
    private static readonly Dictionary<string, XenBuild> Prepared = new(StringComparer.Ordinal);
    private static readonly object Gate = new();

    [GeneratedRegex(@"^\d+\.\d+\.\d+([+~-][0-9A-Za-z.+~-]*)?$")]
    private static partial Regex VersionString();

    public static XenBuild Prepare(string path)
    {
        lock (Gate)
        {
            string full = Path.GetFullPath(path);
            if (Prepared.TryGetValue(full, out var ready)) return ready;
            if (!File.Exists(full)) throw new HostException($"Xen image not found: {path} (run scripts/setup-xen.sh, or pass --xen PATH)");

            byte[] bytes;
            bool compressed = false;
            try
            {
                bytes = File.ReadAllBytes(full);
                if (bytes.Length >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B)
                {
                    compressed = true;
                    using var gz = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress);
                    using var raw = new MemoryStream();
                    gz.CopyTo(raw);
                    bytes = raw.ToArray();
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                throw new HostException($"cannot read Xen image {path}: {e.Message}", e);
            }
            if (bytes.Length < 64 || bytes[0] != 0x7F || bytes[1] != (byte)'E' || bytes[2] != (byte)'L' || bytes[3] != (byte)'F')
                throw new HostException($"{path} is not a Xen hypervisor image (expected an ELF file, optionally gzipped)");

            string kernel = full;
            if (compressed)
            {
                string hash = Convert.ToHexString(SHA256.HashData(bytes))[..16].ToLowerInvariant();
                string dir = Path.Combine(Path.GetTempPath(), "xtf-xen");
                Directory.CreateDirectory(dir);
                kernel = Path.Combine(dir, $"xen-{hash}");
                if (!File.Exists(kernel) || new FileInfo(kernel).Length != bytes.Length)
                {
                    string tmp = kernel + $".{Environment.ProcessId}.tmp";
                    File.WriteAllBytes(tmp, bytes);
                    File.Move(tmp, kernel, overwrite: true);
                }
            }
            var (version, debug) = ReadIdentity(bytes);
            var build = new XenBuild(full, kernel, version, debug);
            Prepared[full] = build;
            return build;
        }
    }

    /// <summary>Reads the version string and debug flag a Xen build embeds in its read-only data.</summary>
    public static (string? Version, bool? Debug) ReadIdentity(byte[] image)
    {
        string? version = null;
        bool? debug = null;
        int start = 0;
        for (int i = 0; i <= image.Length; i++)
        {
            if (i < image.Length && image[i] != 0) continue;
            int len = i - start;
            if (len is >= 5 and <= 80)
            {
                string s = Encoding.ASCII.GetString(image, start, len);
                if (version is null && VersionString().IsMatch(s)) version = s;
                if (debug is null && s is "debug=n" or "debug=y") debug = s == "debug=y";
            }
            start = i + 1;
        }
        return (version, debug);
    }
}
