using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Tests.DebugMode;

/// <summary>AsyncDebug.Enable / Disable / Enable in one process (tests/Targets/Lifecycle).</summary>
public sealed class LifecycleTests
{
    [Fact]
    public void Debug_mode_switches_off_cleanly_and_on_again()
    {
        var result = ChildProcess.Dotnet([Repo.Program("Lifecycle")]);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(
            """
            after first run: [slow-step Steps.SlowAsync(int)]
            after restart: [slow-step Steps.SlowAsync(int), slow-step Steps.SlowAsync(int)]
            registry: enabled=False tasks=0 debug=False
            refused: SlowStepThreshold; debug=False

            """.ReplaceLineEndings("\n"),
            result.Stdout);
    }
}
