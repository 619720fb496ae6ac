#!/usr/bin/env bash
# Installs the real parts Xtf.NET needs to boot tests on real Xen:
#   - xen-hypervisor-4.17-amd64 (Debian 12), which provides /boot/xen-4.17-amd64.gz
#   - qemu-system-x86 from bookworm-backports (QEMU >= 8 is required: 7.2 mis-reports the
#     error code of `int $N` in 64-bit mode, which breaks PV software interrupts)
#   - binutils (readelf, used by the ELF tests)
#   - the `xtf` command: /usr/local/bin/xtf, a link to scripts/xtf (which builds the runner on first use)
# The backports apt source is derived from the machine's existing debian.sources (same URIs),
# so no mirror host is named here.
# Usage: sudo scripts/setup-xen.sh        (idempotent; safe to run again)
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
SOURCES=/etc/apt/sources.list.d/debian.sources
BACKPORTS=/etc/apt/sources.list.d/xtf-backports.sources

if [ "$(id -u)" -ne 0 ]; then
    echo "setup-xen: must run as root (apt-get install)" >&2
    exit 2
fi

codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")

if [ ! -f "$BACKPORTS" ]; then
    if [ ! -f "$SOURCES" ]; then
        echo "setup-xen: $SOURCES not found; add a ${codename}-backports apt source by hand" >&2
        exit 2
    fi
    # Take the first deb822 stanza whose Suites list the plain release, keep its URIs,
    # Components and Signed-By, and point it at <codename>-backports.
    awk -v rel="$codename" '
        BEGIN { RS=""; FS="\n" }
        {
            main = 0; uris = ""; comps = ""; signed = ""
            for (i = 1; i <= NF; i++) {
                if ($i ~ /^Suites:/) { n = split(substr($i, 8), s, " "); for (j = 1; j <= n; j++) if (s[j] == rel) main = 1 }
                if ($i ~ /^URIs:/) uris = $i
                if ($i ~ /^Components:/) comps = $i
                if ($i ~ /^Signed-By:/) signed = $i
            }
            if (main && uris != "") {
                print "Types: deb"; print uris; print "Suites: " rel "-backports"
                print (comps != "" ? comps : "Components: main")
                if (signed != "") print signed
                exit
            }
        }' "$SOURCES" > "$BACKPORTS.tmp"
    if ! grep -q '^URIs:' "$BACKPORTS.tmp"; then
        rm -f "$BACKPORTS.tmp"
        echo "setup-xen: no '${codename}' stanza with URIs in $SOURCES" >&2
        exit 2
    fi
    mv "$BACKPORTS.tmp" "$BACKPORTS"
fi

apt-get update -qq
apt-get install -y -qq --no-install-recommends xen-hypervisor-4.17-amd64 binutils >/dev/null
apt-get install -y -qq --no-install-recommends -t "${codename}-backports" qemu-system-x86 >/dev/null

echo "setup-xen: $(ls /boot/xen-4.17-amd64.gz)"
echo "setup-xen: $(qemu-system-x86_64 --version | head -1)"

# `xtf` as a command: scripts/xtf runs the built runner of this checkout, building it when needed.
ln -sfn "$(cd "$(dirname "$0")" && pwd)/xtf" /usr/local/bin/xtf
echo "setup-xen: /usr/local/bin/xtf -> $(readlink /usr/local/bin/xtf) (builds the runner on first use)"

# The report tools (chromium, the allure package) come with the same setup command.
bash "$(dirname "$0")/setup-report-tools.sh"
