using AsyncLens.Testing;
using System.Xml.Linq;

namespace AsyncLens.Tests.Leaks;

/// <summary>
/// One `dotnet test --no-build` of a sample test project using a DetectAsyncLeaks adapter (tests/Targets/LeakTests.*),
/// as a child process; every outcome and failure message read from its TRX file. A class fixture: one run per project.
/// </summary>
public abstract class AdapterRun
{
    /// <param name="runtime">Null: `dotnet test` on the SDK's runtime. Else the xunit v3 sample run by its own in-process
    /// runner (`LeakTests.XunitV3.dll -trx FILE`) on that runtime (the .NET 11 layout has no SDK to run `dotnet test`).</param>
    protected AdapterRun(string project, IDictionary<string, string?>? env = null, TargetRuntime? runtime = null)
    {
        Project = project;
        Markers = new SourceMarkers(Repo.Source("tests", "Targets", project));
        Shared = new SourceMarkers(Repo.Source("tests", "Targets", "LeakTests.Shared"));
        using var dir = new TempDirectory("asynclens-leaks-");
        var trx = dir.File("run.trx");
        Result = runtime is null
            ? ChildProcess.Dotnet(["test", Repo.Program(project), "--logger", $"trx;LogFileName={trx}"], env, timeout: TimeSpan.FromMinutes(3))
            : ChildProcess.Dotnet([Repo.Program(project), "-trx", trx], env, timeout: TimeSpan.FromMinutes(3), runtime: runtime);
        if (!File.Exists(trx))
            throw new InvalidOperationException($"dotnet test wrote no results:\n{Result}");
        XNamespace ns = "http://microsoft.com/schemas/VisualStudio/TeamTest/2010";
        Outcomes = XDocument.Load(trx).Descendants(ns + "UnitTestResult").ToDictionary(
            r => (string)r.Attribute("testName")!,
            r => ((string)r.Attribute("outcome")!, (string?)r.Descendants(ns + "Message").FirstOrDefault()));
        var doc = XDocument.Load(trx);
        RunOutput = ((string?)doc.Descendants(ns + "ResultSummary").Descendants(ns + "StdOut").FirstOrDefault() ?? "").ReplaceLineEndings("\n");
        TestOutputs = [.. doc.Descendants(ns + "UnitTestResult").Select(r => ((string?)r.Descendants(ns + "StdOut").FirstOrDefault() ?? "").ReplaceLineEndings("\n"))];
    }

    public string Project { get; }

    /// <summary>The markers of the sample's own tests (the lines that start the leaks).</summary>
    internal SourceMarkers Markers { get; }

    /// <summary>The markers of the code every sample leaks from (tests/Targets/LeakTests.Shared).</summary>
    internal SourceMarkers Shared { get; }

    internal ProcessResult Result { get; }

    /// <summary>Each test by name: Passed or Failed, and its failure message.</summary>
    public Dictionary<string, (string Outcome, string? Message)> Outcomes { get; }

    /// <summary>What the run itself printed (the adapter's messages, not a test's).</summary>
    public string RunOutput { get; }

    /// <summary>Each test's standard output.</summary>
    public string[] TestOutputs { get; }

    public string At(string tag) => $"{Markers[tag].File}:{Markers[tag].Line}";

    public string SharedAt(string tag) => $"{Shared[tag].File}:{Shared[tag].Line}";

    public string[] Failed() => [.. Outcomes.Where(o => o.Value.Outcome == "Failed").Select(o => o.Key).Order(StringComparer.Ordinal)];
}
