#!/usr/bin/env bash
# Lays out the .NET 11.0.0 runtime (and ASP.NET Core 11.0.0) as a private DOTNET_ROOT, next to the .NET 10 SDK,
# for the suite's .NET 11 leg (tests/Shared/Net11.cs) and docs/dotnet11.md. The runtime packs come from NuGet
# (a throwaway restore project with PackageDownload); the host (`dotnet`, host/fxr) is copied from the SDK's own
# install, since hostfxr resolves frameworks under the directory of the `dotnet` that runs.
#   tests/Net11/install-dotnet11.sh [ROOT]     ROOT: $ASYNCLENS_DOTNET11_ROOT, else /work/dotnet11
# Then: DOTNET_ROOT=ROOT ROOT/dotnet app.dll runs an app built for net10.0 with RollForward=Major on .NET 11.
# Idempotent: ROOT/.ready (written last) holds the versions laid out; when it matches, nothing is done.
# Called by .ci/run, and by the tests when ROOT/.ready is missing. Concurrent callers wait on ROOT/.lock.
set -euo pipefail
root=${1:-${ASYNCLENS_DOTNET11_ROOT:-/work/dotnet11}}
version=11.0.0
stamp="runtime=$version aspnetcore=$version ref=$version"
[[ -f $root/.ready && $(cat "$root/.ready") == "$stamp" ]] && exit 0

mkdir -p "$root"
root=$(cd "$root" && pwd)
exec 9>"$root/.lock"
flock 9
[[ -f $root/.ready && $(cat "$root/.ready") == "$stamp" ]] && exit 0
rm -f "$root/.ready"

sdk_dotnet=$(readlink -f "$(command -v dotnet)") || { echo "install-dotnet11.sh: no dotnet on PATH (the .NET 10 SDK is needed)" >&2; exit 1; }
sdk_root=$(dirname "$sdk_dotnet")

# Restore the three packs into the global packages folder (NuGet caches them: a second run downloads nothing).
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/restore.csproj" <<EOF
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <TargetFramework>net10.0</TargetFramework>
  </PropertyGroup>
  <ItemGroup>
    <PackageDownload Include="Microsoft.NETCore.App.Runtime.linux-x64" Version="[$version]" />
    <PackageDownload Include="Microsoft.AspNetCore.App.Runtime.linux-x64" Version="[$version]" />
    <PackageDownload Include="Microsoft.NETCore.App.Ref" Version="[$version]" />
  </ItemGroup>
</Project>
EOF
if ! dotnet restore "$work/restore.csproj" --nologo -v quiet >"$work/restore.log" 2>&1; then
    cat "$work/restore.log" >&2
    echo "install-dotnet11.sh: restoring the .NET $version runtime packs failed (log above)" >&2
    exit 1
fi
packages=$(dotnet nuget locals global-packages --list | sed -n 's/^global-packages: //p')
pack() { echo "${packages%/}/$1/$version"; }

# One shared framework: the runtime pack's managed assemblies and native files in one directory, with the
# deps.json and runtimeconfig.json a real install has (hostfxr reads the framework's own dependencies there).
framework() { # name package-id [depends-on]
    local dir="$root/shared/$1/$version" src
    src=$(pack "$2")/runtimes/linux-x64
    [[ -d $src/lib/net11.0 ]] || { echo "install-dotnet11.sh: $src/lib/net11.0 missing from the restored $2 pack" >&2; exit 1; }
    rm -rf "$dir"
    mkdir -p "$dir"
    cp -r "$src/lib/net11.0/." "$dir/"
    [[ -d $src/native ]] && cp -r "$src/native/." "$dir/"
    if [[ ! -f $dir/$1.runtimeconfig.json ]]; then
        if [[ -n ${3:-} ]]; then
            printf '{\n  "runtimeOptions": {\n    "tfm": "net11.0",\n    "rollForward": "LatestPatch",\n    "framework": { "name": "%s", "version": "%s" }\n  }\n}\n' "$3" "$version" >"$dir/$1.runtimeconfig.json"
        else
            printf '{\n  "runtimeOptions": {\n    "tfm": "net11.0"\n  }\n}\n' >"$dir/$1.runtimeconfig.json"
        fi
    fi
}
framework Microsoft.NETCore.App microsoft.netcore.app.runtime.linux-x64
framework Microsoft.AspNetCore.App microsoft.aspnetcore.app.runtime.linux-x64 Microsoft.NETCore.App

# The reference pack, where the SDK would look for it (compiling against net11.0 by explicit references).
rm -rf "$root/packs/Microsoft.NETCore.App.Ref/$version"
mkdir -p "$root/packs/Microsoft.NETCore.App.Ref"
cp -r "$(pack microsoft.netcore.app.ref)" "$root/packs/Microsoft.NETCore.App.Ref/$version"

# The host: the SDK's muxer and hostfxr (any recent hostfxr resolves a newer framework; only the files it finds
# under ROOT count, so .NET 10 is not visible from here and a RollForward=Major app runs on .NET 11).
rm -rf "$root/host"
mkdir -p "$root/host"
cp -r "$sdk_root/host/fxr" "$root/host/"
cp "$sdk_root/dotnet" "$root/dotnet"

echo "$stamp" >"$root/.ready"
echo "install-dotnet11.sh: .NET $version laid out in $root" >&2
