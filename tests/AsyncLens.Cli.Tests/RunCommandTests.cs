using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests;

/// <summary><c>asynclens run --format json --output FILE -- dotnet Bugs.dll all</c>: the seeded bugs, reported with no code change.</summary>
public sealed class RunCommandTests(RunCommandTests.Run run) : BugScenarioFacts(run), IClassFixture<RunCommandTests.Run>
{
    public sealed class Run() : ScenarioRun(() => Start(TargetRuntime.Net10, [ChildProcess.DotnetPath(), Repo.Program("Bugs"), "all"]));

    internal static (ProcessResult, string) Start(TargetRuntime runtime, string[] command)
    {
        var output = Path.Combine(Path.GetTempPath(), $"asynclens-run-{Guid.NewGuid():N}.jsonl");
        try
        {
            var result = ChildProcess.Dotnet([Repo.Cli, "run", "--format", "json", "--output", output, "--", .. command], runtime: runtime);
            return (result, File.Exists(output) ? File.ReadAllText(output) : "");
        }
        finally
        {
            File.Delete(output);
        }
    }
}

/// <summary>
/// The same where only .NET 11 is installed: asynclens itself on .NET 11 (<c>RollForward=Major</c>), given the program's
/// dll, runs it with the <c>dotnet</c> that runs asynclens, so the program and the startup hook are on .NET 11 too.
/// </summary>
public sealed class RunCommandNet11Tests(RunCommandNet11Tests.Run run) : Net11BugScenarioFacts(run), IClassFixture<RunCommandNet11Tests.Run>
{
    public sealed class Run() : ScenarioRun(() => RunCommandTests.Start(TargetRuntime.Net11, [Repo.Program("Bugs"), "all"]));
}
