using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests;

/// <summary><c>asynclens run --format json --output FILE -- dotnet Bugs.dll all</c>: the seeded bugs, reported with no code change.</summary>
public sealed class RunCommandTests(RunCommandTests.Run run) : BugScenarioFacts(run), IClassFixture<RunCommandTests.Run>
{
    public sealed class Run() : ScenarioRun(() =>
    {
        var output = Path.Combine(Path.GetTempPath(), $"asynclens-run-{Guid.NewGuid():N}.jsonl");
        try
        {
            var result = ChildProcess.Dotnet([Repo.Cli, "run", "--format", "json", "--output", output, "--", ChildProcess.DotnetPath(), Repo.Program("Bugs"), "all"]);
            return (result, File.Exists(output) ? File.ReadAllText(output) : "");
        }
        finally
        {
            File.Delete(output);
        }
    });
}
