namespace AsyncLens.Runtime.Layout;

/// <summary>
/// Microsoft.Extensions.Hosting (the Generic Host), read by name: the engine references none of it. A
/// <c>BackgroundService</c> keeps the source of the token its <c>ExecuteAsync</c> is given in a private field; the host
/// cancels it to stop the service (and, by default, stops the whole app when ExecuteAsync ends in an exception).
/// </summary>
internal static class HostingLayout
{
    public const string BackgroundService = "Microsoft.Extensions.Hosting.BackgroundService";

    /// <summary>CancellationTokenSource, in <see cref="BackgroundService"/>: the service's stopping token's source.</summary>
    public const string StoppingSource = "_stoppingCts";
}
