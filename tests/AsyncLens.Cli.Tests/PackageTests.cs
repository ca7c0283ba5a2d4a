using System.IO.Compression;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests;

/// <summary>
/// The two packages, as the README says to make and install them: the tool (AsyncLens.Tool, command asynclens)
/// and the engine library (AsyncLens). Packed here, inspected, and the tool installed and run.
/// </summary>
public sealed class PackageTests
{
    [Fact]
    public void The_tool_package_holds_what_runs_here_and_installs_as_asynclens()
    {
        using var dir = new TempDirectory("asynclens-pack-");
        var feed = dir.File("feed");
        Pack("src/AsyncLens.Cli/AsyncLens.Cli.csproj", feed);
        var files = Entries(Directory.GetFiles(feed, "AsyncLens.Tool.*.nupkg").Single());

        const string Tool = "tools/net10.0/any/";
        Assert.Contains(Tool + "asynclens.dll", files);
        Assert.Contains(Tool + "AsyncLens.Engine.dll", files); // the startup hook it injects
        Assert.Contains(Tool + "demo/ChapterBugs.dll", files);
        Assert.Contains("PACKAGE.md", files);
        // Only the demo's own folder has the demo; no Windows-only native libraries, no Windows runtime assets.
        Assert.DoesNotContain(files, f => f.StartsWith(Tool + "ChapterBugs", StringComparison.Ordinal));
        Assert.DoesNotContain(files, f => f.EndsWith("/msdia140.dll", StringComparison.Ordinal) || f.EndsWith("/KernelTraceControl.dll", StringComparison.Ordinal));
        Assert.DoesNotContain(files, f => f.StartsWith(Tool + "runtimes/win", StringComparison.Ordinal));

        var tools = dir.File("tools");
        var install = ChildProcess.Dotnet(["tool", "install", "AsyncLens.Tool", "--tool-path", tools, "--add-source", feed], timeout: TimeSpan.FromMinutes(3), timed: false);
        Assert.True(install.ExitCode == 0, install.ToString());
        // The installed command runs a program under debug mode with the engine it carries.
        var run = ChildProcess.Run(Path.Combine(tools, "asynclens"), ["run", "--format", "json", "--", Repo.Program("Bugs"), "threshold"]);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("Threshold.StepAsync()", Assert.Single(Reports.Parse(run.Stderr)).Method());
    }

    [Fact]
    public void The_engine_package_is_a_library_with_no_dependencies()
    {
        using var dir = new TempDirectory("asynclens-pack-");
        Pack("src/AsyncLens/AsyncLens.csproj", dir.File("feed"));
        var package = Directory.GetFiles(dir.File("feed"), "AsyncLens.*.nupkg").Single();
        var files = Entries(package);
        Assert.Contains("lib/net10.0/AsyncLens.Engine.dll", files);
        Assert.Contains("lib/net10.0/AsyncLens.Engine.xml", files);
        Assert.Contains("PACKAGE.md", files);
        using var zip = ZipFile.OpenRead(package);
        using var nuspec = new StreamReader(zip.GetEntry("AsyncLens.nuspec")!.Open());
        var text = nuspec.ReadToEnd();
        Assert.Contains("<id>AsyncLens</id>", text);
        Assert.DoesNotContain("<dependency ", text); // BCL only: a startup hook can load it into any app
    }

    private static void Pack(string project, string output)
    {
        var pack = ChildProcess.Dotnet(["pack", Repo.Source(project), "-c", "Release", "-o", output, "-p:ContinuousIntegrationBuild=true"],
            timeout: TimeSpan.FromMinutes(5), timed: false);
        Assert.True(pack.ExitCode == 0, pack.ToString());
    }

    private static List<string> Entries(string package)
    {
        using var zip = ZipFile.OpenRead(package);
        return zip.Entries.Select(e => e.FullName).ToList();
    }
}
