<#
.SYNOPSIS
  Thin wrapper over the same dotnet commands the README gives, for PowerShell users.
.EXAMPLE
  ./run-tests.ps1                      # dotnet test Xtf.sln
  ./run-tests.ps1 -Filter TestCategory=xen_version
  ./run-tests.ps1 -Setup               # install Xen and QEMU first (needs root, Debian 12)
  ./run-tests.ps1 -Suite               # the main job: the suite on the simulator (xtf run)
  ./run-tests.ps1 -Suite -Host both    # the suite on the simulator and real Xen, transcripts compared
  ./run-tests.ps1 -Report              # xtf report: Allure HTML, summary.html and JUnit from ./results
#>
param(
    [string]$Filter = "",
    [switch]$Setup,
    [switch]$Suite,
    [Alias("Host")] [string]$OnHost = "sim",   # $Host itself is PowerShell's read-only automatic variable
    [switch]$Report,
    [string[]]$Tests = @()
)
$ErrorActionPreference = "Stop"
Set-Location $PSScriptRoot

if ($Setup) {
    & sudo bash scripts/setup-xen.sh
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
}

if ($Suite) {
    & dotnet run --project conformance/Xtf.Runner -- run @Tests --host $OnHost
    exit $LASTEXITCODE
}

if ($Report) {
    & dotnet run --project conformance/Xtf.Runner -- report results
    exit $LASTEXITCODE
}

$testArgs = @("test", "Xtf.sln")
if ($Filter) { $testArgs += @("--filter", $Filter) }
& dotnet @testArgs
exit $LASTEXITCODE
