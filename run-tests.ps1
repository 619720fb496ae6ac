#!/usr/bin/env pwsh
<#
.SYNOPSIS
  The README's commands for PowerShell users. PowerShell comes as a local .NET tool:
  `dotnet tool restore` once, then `dotnet pwsh ./run-tests.ps1 ...` (or `./run-tests.ps1` where pwsh is installed).
.EXAMPLE
  ./run-tests.ps1                                  # dotnet test Xtf.sln
  ./run-tests.ps1 -Filter TestCategory=xen_version # dotnet test Xtf.sln --filter TestCategory=xen_version
  ./run-tests.ps1 -Project conformance/Xtf.Elf.Tests -NoBuild -Filter "FullyQualifiedName~ElfSharp"
  ./run-tests.ps1 -Setup                           # install Xen, QEMU and the report tools first (root or sudo, Debian 12)
  ./run-tests.ps1 -List -Tests 'test-pv64-sched-*' # xtf list: the suite's tests
  ./run-tests.ps1 -Suite                           # the main job: the suite on the simulator (xtf run)
  ./run-tests.ps1 -Suite -Host both                # the suite on the simulator and real Xen, transcripts compared
  ./run-tests.ps1 -Report                          # xtf report: Allure HTML, summary.html and JUnit from ./results
.NOTES
  xtf is scripts/xtf, which builds the runner when it is missing or out of date. Each command is
  printed before it runs; the script exits with that command's exit code.
#>
[CmdletBinding()]
param(
    [string]$Filter = "",
    [string]$Project = "Xtf.sln",
    [string]$Configuration = "",
    [switch]$NoBuild,
    [switch]$Setup,
    [switch]$List,
    [switch]$Suite,
    [Alias("Host")] [ValidateSet("sim", "xen", "both")] [string]$OnHost = "sim",   # $Host itself is PowerShell's read-only automatic variable
    [switch]$Report,
    [string[]]$Tests = @()
)
$ErrorActionPreference = "Stop"
Set-Location $PSScriptRoot

function Invoke-Step([string]$Command, [string[]]$Arguments) {
    Write-Host "run-tests: $Command $($Arguments -join ' ')"
    & $Command @Arguments | Out-Host   # to the console as it comes, not into the return value
    return $LASTEXITCODE
}

$xtf = Join-Path $PSScriptRoot "scripts/xtf"

if ($Setup) {
    $root = (& id -u) -eq "0"
    $code = if ($root) { Invoke-Step "bash" @("scripts/setup-xen.sh") } else { Invoke-Step "sudo" @("bash", "scripts/setup-xen.sh") }
    if ($code -ne 0) { exit $code }
    if (-not ($List -or $Suite -or $Report -or $Filter)) { exit 0 }
}

if ($List) {
    exit (Invoke-Step $xtf (@("list") + $Tests))
}

if ($Suite) {
    exit (Invoke-Step $xtf (@("run") + $Tests + @("--host", $OnHost)))
}

if ($Report) {
    exit (Invoke-Step $xtf @("report", "results"))
}

$testArgs = @("test", $Project)
if ($Configuration) { $testArgs += @("--configuration", $Configuration) }
if ($NoBuild) { $testArgs += "--no-build" }
if ($Filter) { $testArgs += @("--filter", $Filter) }
exit (Invoke-Step "dotnet" $testArgs)
