using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests;

/// <summary><c>asynclens run --format json --output FILE -- dotnet Patterns.dll SCENARIO</c>: the chapter's patterns, no code change.</summary>
public sealed class PatternRunTests(PatternRunTests.Runs runs) : PatternFacts(runs), IClassFixture<PatternRunTests.Runs>
{
    public sealed class Runs() : PatternRuns(scenario => RunCommandTests.Start(TargetRuntime.Net10, [ChildProcess.DotnetPath(), Repo.Program("Patterns"), scenario]));
}
