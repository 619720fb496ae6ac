<#
.SYNOPSIS
  Thin wrapper over the same dotnet commands the README gives, for PowerShell users.
.EXAMPLE
  ./run-tests.ps1                      # dotnet test Xtf.sln
  ./run-tests.ps1 -Filter TestCategory=xen_version
  ./run-tests.ps1 -Setup               # install Xen and QEMU first (needs root, Debian 12)
  ./run-tests.ps1 -Suite -Host xen     # run the suite with the xtf runner instead of dotnet test
#>
param(
    [string]$Filter = "",
    [switch]$Setup,
    [switch]$Suite,
    [string]$Host = "xen",
    [string[]]$Tests = @()
)
$ErrorActionPreference = "Stop"
Set-Location $PSScriptRoot

if ($Setup) {
    & sudo bash scripts/setup-xen.sh
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
}

if ($Suite) {
    & dotnet run --project conformance/Xtf.Runner -- run @Tests --host $Host
    exit $LASTEXITCODE
}

$testArgs = @("test", "Xtf.sln")
if ($Filter) { $testArgs += @("--filter", $Filter) }
& dotnet @testArgs
exit $LASTEXITCODE
