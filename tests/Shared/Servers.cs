using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace AsyncLens.Testing;

/// <summary>
/// Private database servers for the real-application targets (tests/RealApps): one PostgreSQL and one
/// redis-server per test process, started on first use on free loopback ports, with their data in a
/// temporary directory, stopped when the test process exits. A server that is not installed is installed
/// (tests/RealApps/install-servers.sh: Debian's packages, as root), or the test fails saying how.
/// </summary>
internal static class Servers
{
    private static readonly Lazy<PostgresServer> s_postgres = new(() => PostgresServer.Start());
    private static readonly Lazy<RedisServer> s_redis = new(() => RedisServer.Start());

    /// <summary>An Npgsql connection string for the shared PostgreSQL server.</summary>
    public static string Postgres => s_postgres.Value.ConnectionString;

    /// <summary>host:port of the shared redis-server.</summary>
    public static string Redis => s_redis.Value.EndPoint;

    /// <summary>DB_PG and DB_REDIS for tests/RealApps/DbWorker.</summary>
    public static Dictionary<string, string?> DbWorkerEnvironment() => new() { ["DB_PG"] = Postgres, ["DB_REDIS"] = Redis };

    internal static void Install(string what)
    {
        var script = Repo.Source("tests", "RealApps", "install-servers.sh");
        using var _ = InstallLock();
        var result = ChildProcess.Run("bash", [script], timeout: TimeSpan.FromMinutes(10), timed: false);
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"{what} is not installed and could not be installed: {result.Stderr.Trim()}");
    }

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    // Waits for a line containing `ready` on the server's output; fails with what it wrote if it exits first.
    internal static void WaitUntilReady(Process server, StringBuilder output, string ready, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            lock (output)
            {
                if (output.ToString().Contains(ready, StringComparison.Ordinal))
                    return;
            }
            if (server.HasExited)
                break;
            Thread.Sleep(50);
        }
        lock (output)
            throw new InvalidOperationException($"{what} did not start:\n{output}");
    }

    /// <summary>
    /// Starts a server (as <paramref name="user"/>: setpriv execs it, so the process is the server itself), and a
    /// watcher that sends it <paramref name="stopSignal"/> once this test process is gone, however it ended.
    /// </summary>
    internal static Process StartServer(string program, IEnumerable<string> args, StringBuilder output, string stopSignal, string? user = null)
    {
        var start = user is null ? new ProcessStartInfo(program) : new ProcessStartInfo("setpriv", [$"--reuid={user}", $"--regid={user}", "--init-groups", program]);
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        start.UseShellExecute = false;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        var process = Process.Start(start)!;
        // The server lives as long as the test process, not the test that first needed it: its readers carry no test's
        // context (started from that test's flow, they were its leak under [DetectAsyncLeaks]).
        using (ExecutionContext.SuppressFlow())
        {
            _ = ChildProcess.ReadLinesAsync(process.StandardOutput, output, _ => { });
            _ = ChildProcess.ReadLinesAsync(process.StandardError, output, _ => { });
        }
        var watcher = new ProcessStartInfo("setsid",
            ["sh", "-c", $"while kill -0 {Environment.ProcessId} 2>/dev/null; do sleep 0.5; done; kill -{stopSignal} {process.Id} 2>/dev/null"])
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        Process.Start(watcher)?.Dispose();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Stop(process, stopSignal);
        return process;
    }

    private static void Stop(Process server, string signal)
    {
        try
        {
            if (server.HasExited)
                return;
            ChildProcess.Run("kill", [$"-{signal}", server.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)], timed: false);
            if (!server.WaitForExit(5000))
                server.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
        }
    }

    private static FileStream InstallLock()
    {
        var path = Path.Combine(Path.GetTempPath(), "asynclens-install-servers.lock");
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException)
            {
                Thread.Sleep(200);
            }
        }
    }
}

/// <summary>A PostgreSQL cluster of its own (initdb), trust authentication on 127.0.0.1, fsync off.</summary>
internal sealed class PostgresServer
{
    private const string Prefix = "asynclens-pg-";

    private PostgresServer(string connectionString) => ConnectionString = connectionString;

    public string ConnectionString { get; }

    public static PostgresServer Start()
    {
        RemoveStale();
        var bin = Binaries() ?? (Install() ?? throw new InvalidOperationException("PostgreSQL is not installed"));
        // PostgreSQL refuses to run as root: then its files and processes belong to the package's postgres user.
        var user = Environment.UserName == "root" ? "postgres" : null;
        var dir = Directory.CreateTempSubdirectory($"{Prefix}{Environment.ProcessId}-");
        var data = Path.Combine(dir.FullName, "data");
        if (user is not null)
            Chown(dir.FullName, user);
        var init = ChildProcess.Run(user is null ? Path.Combine(bin, "initdb") : "setpriv",
            [.. user is null ? [] : new[] { $"--reuid={user}", $"--regid={user}", "--init-groups", Path.Combine(bin, "initdb") }, "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"],
            timeout: TimeSpan.FromMinutes(2), timed: false);
        if (init.ExitCode != 0)
            throw new InvalidOperationException($"initdb failed: {init}");
        var port = Servers.FreePort();
        var output = new StringBuilder();
        var server = Servers.StartServer(Path.Combine(bin, "postgres"),
            ["-D", data, "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-k", dir.FullName,
             "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off"],
            output, stopSignal: "INT", user); // SIGINT: a fast shutdown, backends with it
        AppDomain.CurrentDomain.ProcessExit += (_, _) => RemoveWhenStopped(server, dir.FullName);
        Servers.WaitUntilReady(server, output, "ready to accept connections", "PostgreSQL");
        return new PostgresServer($"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres;Pooling=true;Timeout=30");
    }

    private static string? Binaries() =>
        Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(v => Path.Combine(v, "bin")).Where(b => File.Exists(Path.Combine(b, "postgres"))).Order().LastOrDefault()
            : null;

    private static string? Install()
    {
        Servers.Install("PostgreSQL");
        return Binaries();
    }

    private static void Chown(string path, string user)
    {
        var chown = ChildProcess.Run("chown", [$"{user}:{user}", path], timed: false);
        if (chown.ExitCode != 0)
            throw new InvalidOperationException($"chown {user} {path}: {chown.Stderr}");
    }

    private static void RemoveWhenStopped(Process server, string dir)
    {
        try
        {
            if (server.WaitForExit(5000))
                Directory.Delete(dir, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
        }
    }

    // Clusters left by test processes that died without stopping theirs: the server is stopped, the files removed.
    private static void RemoveStale()
    {
        foreach (var dir in Directory.EnumerateDirectories(Path.GetTempPath(), Prefix + "*"))
        {
            var owner = Path.GetFileName(dir)[Prefix.Length..].Split('-')[0];
            if (!int.TryParse(owner, out var pid) || Directory.Exists($"/proc/{pid}"))
                continue;
            try
            {
                if (File.Exists(Path.Combine(dir, "data", "postmaster.pid"))
                    && int.TryParse(File.ReadLines(Path.Combine(dir, "data", "postmaster.pid")).FirstOrDefault(), out var postmaster))
                    ChildProcess.Run("kill", ["-INT", postmaster.ToString(System.Globalization.CultureInfo.InvariantCulture)], timed: false);
                Directory.Delete(dir, recursive: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
            }
        }
    }
}

/// <summary>A redis-server of its own on 127.0.0.1, nothing saved to disk.</summary>
internal sealed class RedisServer
{
    private RedisServer(string endPoint) => EndPoint = endPoint;

    public string EndPoint { get; }

    public static RedisServer Start()
    {
        var program = Which("redis-server");
        if (program is null)
        {
            Servers.Install("redis-server");
            program = Which("redis-server") ?? throw new InvalidOperationException("redis-server is not installed");
        }
        var port = Servers.FreePort();
        var output = new StringBuilder();
        var server = Servers.StartServer(program,
            ["--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", Path.GetTempPath()],
            output, stopSignal: "TERM");
        Servers.WaitUntilReady(server, output, "Ready to accept connections", "redis-server");
        return new RedisServer($"127.0.0.1:{port}");
    }

    private static string? Which(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);
}
