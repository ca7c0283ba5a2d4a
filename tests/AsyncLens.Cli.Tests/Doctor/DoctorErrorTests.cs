using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests.Doctor;

/// <summary>Bad input to <c>asynclens doctor</c>: one line on standard error, nothing on standard output, exit code 2.</summary>
public sealed class DoctorErrorTests
{
    [Theory]
    [InlineData(new[] { "doctor", "abc" }, "asynclens: 'abc' is not a process id (a number, as ps or dotnet-trace ps shows it) (see 'asynclens doctor --help')")]
    [InlineData(new[] { "doctor", "999999" }, "asynclens: no process with id 999999")]
    [InlineData(new[] { "doctor" }, "asynclens: give a process id, or --dump FILE (see 'asynclens doctor --help')")]
    [InlineData(new[] { "doctor", "--dump", "/nonexistent/app.core" }, "asynclens: no such dump file: /nonexistent/app.core")]
    public void Says_what_is_wrong_in_one_line(string[] args, string message)
    {
        var result = ChildProcess.Dotnet([Repo.Cli, .. args], timed: false);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Equal("", result.Stdout);
        Assert.Equal(message + "\n", result.Stderr);
    }

    [Fact]
    public void A_process_that_is_not_dotnet_is_refused()
    {
        using var sleep = System.Diagnostics.Process.Start("sleep", "30");
        try
        {
            var result = ChildProcess.Dotnet([Repo.Cli, "doctor", sleep.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)], timed: false);

            Assert.True(result.ExitCode == 2, result.ToString());
            Assert.Equal($"asynclens: process {sleep.Id} (sleep) is not a .NET process (no .NET runtime is loaded in it)\n", result.Stderr);
        }
        finally
        {
            sleep.Kill();
        }
    }
}
