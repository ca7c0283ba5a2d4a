using AsyncLens.Hosting;
using Xunit;

namespace AsyncLens.Tests.Hosting;

/// <summary>The ASYNCLENS_* variables: good values become options, bad ones one line and the default.</summary>
public sealed class HookSettingsTests
{
    private static (AsyncDebugOptions Options, string? Output, string Errors) Parse(params (string Name, string Value)[] vars)
    {
        var env = vars.ToDictionary(v => v.Name, v => v.Value);
        var errors = new StringWriter();
        var options = HookSettings.Parse(name => env.GetValueOrDefault(name), errors, out var output);
        return (options, output, errors.ToString());
    }

    [Fact]
    public void Unset_variables_give_the_defaults()
    {
        var (options, output, errors) = Parse();
        Assert.Equal(TimeSpan.FromMilliseconds(100), options.SlowStepThreshold);
        Assert.Equal(AsyncReportFormat.Text, options.Format);
        Assert.Null(output);
        Assert.Equal("", errors);
    }

    [Fact]
    public void Variables_set_threshold_format_and_output()
    {
        var (options, output, errors) = Parse(("ASYNCLENS_SLOW_MS", "250"), ("ASYNCLENS_FORMAT", "JSON"), ("ASYNCLENS_OUTPUT", "/tmp/r.jsonl"));
        Assert.Equal(TimeSpan.FromMilliseconds(250), options.SlowStepThreshold);
        Assert.Equal(AsyncReportFormat.Json, options.Format);
        Assert.Equal("/tmp/r.jsonl", output);
        Assert.Equal("", errors);
    }

    [Theory]
    [InlineData("ASYNCLENS_SLOW_MS", "fast", "asynclens: ASYNCLENS_SLOW_MS='fast' is not a positive number of milliseconds; using 100\n")]
    [InlineData("ASYNCLENS_SLOW_MS", "-3", "asynclens: ASYNCLENS_SLOW_MS='-3' is not a positive number of milliseconds; using 100\n")]
    [InlineData("ASYNCLENS_FORMAT", "xml", "asynclens: ASYNCLENS_FORMAT='xml' is not text or json; using text\n")]
    [InlineData("ASYNCLENS_DUMP_FORMAT", "graph", "asynclens: ASYNCLENS_DUMP_FORMAT='graph' is not tree, stacks or json; using stacks\n")]
    [InlineData("ASYNCLENS_DUMP_FORMAT", "7", "asynclens: ASYNCLENS_DUMP_FORMAT='7' is not tree, stacks or json; using stacks\n")]
    public void A_bad_value_is_one_line_and_the_default(string name, string value, string message)
    {
        var (options, _, errors) = Parse((name, value));
        Assert.Equal(message, errors);
        Assert.Equal(TimeSpan.FromMilliseconds(100), options.SlowStepThreshold);
        Assert.Equal(AsyncReportFormat.Text, options.Format);
        Assert.Equal(TaskDumpFormat.Stacks, options.DumpFormat);
    }

    [Theory]
    [InlineData("tree", TaskDumpFormat.Tree)]
    [InlineData("Stacks", TaskDumpFormat.Stacks)]
    [InlineData("JSON", TaskDumpFormat.Json)]
    public void Dump_format_names_the_shape_of_the_signal_dump(string value, TaskDumpFormat format)
    {
        var (options, _, errors) = Parse(("ASYNCLENS_DUMP_FORMAT", value));
        Assert.Equal(format, options.DumpFormat);
        Assert.Equal("", errors);
    }

    [Theory]
    [InlineData("1", true)]
    [InlineData("true", true)]
    [InlineData("ON", true)]
    [InlineData("0", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void Debug_switch_values(string? value, bool on) => Assert.Equal(on, HookSettings.IsOn(value));
}
