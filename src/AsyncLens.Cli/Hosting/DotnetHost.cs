namespace AsyncLens.Cli.Hosting;

/// <summary>Finds the <c>dotnet</c> executable that runs this CLI, to run framework-dependent apps (<c>app.dll</c>).</summary>
internal static class DotnetHost
{
    public static string Path()
    {
        var name = OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet";
        if (Environment.ProcessPath is { } self && System.IO.Path.GetFileName(self).Equals(name, StringComparison.OrdinalIgnoreCase))
            return self;
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } hostPath && File.Exists(hostPath))
            return hostPath;
        // <root>/shared/Microsoft.NETCore.App/<version>/System.Private.CoreLib.dll -> <root>/dotnet
        var coreLib = typeof(object).Assembly.Location;
        var root = System.IO.Path.GetDirectoryName(System.IO.Path.GetDirectoryName(System.IO.Path.GetDirectoryName(System.IO.Path.GetDirectoryName(coreLib))));
        if (root is not null && File.Exists(System.IO.Path.Combine(root, name)))
            return System.IO.Path.Combine(root, name);
        return name;
    }
}
