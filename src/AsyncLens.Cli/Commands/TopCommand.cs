using System.CommandLine;
using System.Globalization;
using AsyncLens.Cli.Agent;

namespace AsyncLens.Cli.Commands;

/// <summary>
/// <c>asynclens top PID</c>: a live full-screen view of a process's pending async work, from its console agent's
/// <c>ps</c> (with the requests in flight), <c>pool</c> (and <c>threads</c> in debug mode; <c>ps-terminated</c> in the view of ended tasks) once a second (docs/console.md#top). Not at a terminal (output to a file or a pipe): one
/// frame, printed, and exit 0. No agent in the process: one line saying how to start it, exit 1.
/// </summary>
internal static class TopCommand
{
    public static Command Create()
    {
        var pid = new Argument<string>("pid") { Description = "The process id (asynclens console lists the processes with a console)" };
        var limit = new Option<double>("--pending-limit")
        {
            Description = "Warn about tasks pending longer than this many seconds (ages are recorded in debug mode)",
            DefaultValueFactory = _ => 10,
            HelpName = "seconds",
        };
        var requestLimit = new Option<double>("--request-limit")
        {
            Description = "Warn about ASP.NET Core requests in flight longer than this many seconds",
            DefaultValueFactory = _ => 10,
            HelpName = "seconds",
        };
        var command = new Command("top",
            "A live view of a process's pending async work through its console agent (ASYNCLENS_CONSOLE=1, or asynclens run --console): tasks refreshed each second, sorted by age, busy time or method, filtered; where and cancel of the selected task; warnings. Not at a terminal: one frame.")
        {
            pid, limit, requestLimit,
        };
        command.SetAction(parse =>
        {
            var id = ConsoleCommand.Pid(parse.GetValue(pid)!, "top");
            var seconds = Seconds(parse.GetValue(limit), "--pending-limit");
            var requestSeconds = Seconds(parse.GetValue(requestLimit), "--request-limit");
            using var client = ConsoleClient.Connect(id);
            var screen = new TopScreen(client.Program, id, client.DebugMode, TimeSpan.FromSeconds(seconds), TimeSpan.FromSeconds(requestSeconds));
            if (!Console.IsOutputRedirected && !Console.IsInputRedirected)
                return new TopView(client, screen, client.DebugMode).Run();
            // For scripts: the frame as a terminal of $COLUMNS would show it, every row.
            screen.Snapshot = TopSnapshot.Take(client, client.DebugMode);
            var frame = screen.Render(TopView.PrintedWidth(), null, null);
            Console.Out.Write(string.Join('\n', frame.Lines) + "\n");
            Console.Out.Flush();
            return screen.Snapshot.Error is null ? 0 : 1;
        });
        return command;
    }

    private static double Seconds(double seconds, string option) =>
        seconds > 0 && !double.IsInfinity(seconds)
            ? seconds
            : throw new CliException($"{option} {seconds.ToString(CultureInfo.InvariantCulture)} is not a number of seconds above 0 (see 'asynclens top --help')");
}
