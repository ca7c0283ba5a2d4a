using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;

namespace AsyncLens.Hosting;

/// <summary>
/// The .NET SDK's own processes (<c>dotnet build</c>, MSBuild nodes, the compiler server, the test platform)
/// inherit the variables meant for the app (<c>asynclens run -- dotnet run</c>, <c>dotnet test</c>): AsyncLens
/// stays out of them on purpose. It says so once when that means nothing will be reported, and keeps
/// <c>kill -USR1</c> from killing the SDK process the user mistook for the app.
/// </summary>
internal static class ToolProcesses
{
    private const int SigUsr1 = 10;

    private static readonly HashSet<string> s_entryAssemblies = new(StringComparer.OrdinalIgnoreCase)
    {
        "dotnet", "MSBuild", "VBCSCompiler", "csc", "vbc", "NuGet.Build.Tasks.Console", "vstest.console", "datacollector",
    };

    // SDK commands that start the user's program, which is watched in its own process.
    private static readonly HashSet<string> s_startTheProgram = new(StringComparer.OrdinalIgnoreCase) { "run", "watch", "test", "exec" };

    private static PosixSignalRegistration? s_signal;
    private static int s_explained;

    /// <summary>True in one of the SDK's processes.</summary>
    public static bool IsToolProcess() =>
        Assembly.GetEntryAssembly()?.GetName().Name is { } entry && s_entryAssemblies.Contains(entry);

    /// <summary>
    /// In the SDK's command process (<c>dotnet build</c>): one line when nothing will be watched, and a SIGUSR1 that
    /// says where to send it instead of terminating the build. Its helper processes stay silent.
    /// </summary>
    public static void Explain(TextWriter errors)
    {
        if (Interlocked.Exchange(ref s_explained, 1) != 0 || !string.Equals(Assembly.GetEntryAssembly()?.GetName().Name, "dotnet", StringComparison.OrdinalIgnoreCase))
            return;
        var command = Environment.GetCommandLineArgs() is [_, var verb, ..] ? $"dotnet {verb}" : "dotnet";
        var startsProgram = command.Split(' ') is [_, var v] && s_startTheProgram.Contains(v);
        if (!startsProgram)
        {
            errors.WriteLine($"asynclens: not watching '{command}': the .NET SDK's own processes are skipped on purpose, so nothing will be reported; "
                + "to watch your program, run it: asynclens run -- dotnet path/to/YourApp.dll (or: asynclens run -- dotnet run)");
        }
        if (OperatingSystem.IsWindows())
            return;
        try
        {
            s_signal = PosixSignalRegistration.Create((PosixSignal)SigUsr1, context =>
            {
                context.Cancel = true; // SIGUSR1 would terminate the SDK (and the build with it)
                var children = startsProgram ? Children() : [];
                errors.WriteLine(children.Count > 0
                    ? $"asynclens: SIGUSR1 ignored: process {Environment.ProcessId} is the .NET SDK ('{command}'); the program it started is process {string.Join(", ", children)}: kill -USR1 {children[0]}"
                    : $"asynclens: SIGUSR1 ignored: process {Environment.ProcessId} is the .NET SDK ('{command}'), which asynclens does not watch");
            });
        }
        catch (Exception ex) when (ex is PlatformNotSupportedException or IOException or ArgumentOutOfRangeException)
        {
        }
    }

    // This process's children, from /proc (Linux); none known elsewhere.
    private static List<int> Children()
    {
        var children = new List<int>();
        try
        {
            foreach (var task in Directory.GetDirectories("/proc/self/task"))
            {
                var path = Path.Combine(task, "children");
                if (!File.Exists(path))
                    continue;
                foreach (var pid in File.ReadAllText(path).Split(' ', StringSplitOptions.RemoveEmptyEntries))
                {
                    if (int.TryParse(pid, NumberStyles.None, CultureInfo.InvariantCulture, out var id) && IsDotnetProgram(id))
                        children.Add(id);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
        return children;
    }

    // A child that is not one of the SDK's own (MSBuild nodes and the compiler server run as `dotnet <tool>.dll`).
    private static bool IsDotnetProgram(int pid)
    {
        try
        {
            var args = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0', StringSplitOptions.RemoveEmptyEntries);
            return !args.Any(a => s_entryAssemblies.Contains(Path.GetFileNameWithoutExtension(a)) && a.EndsWith(".dll", StringComparison.OrdinalIgnoreCase));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
