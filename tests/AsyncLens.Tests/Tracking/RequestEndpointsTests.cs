using System.Diagnostics;
using AsyncLens.Tracking;
using Xunit;

namespace AsyncLens.Tests.Tracking;

/// <summary>
/// Hosting's request start and end from its DiagnosticListener (<see cref="RequestEndpoints"/>), which debug mode on the
/// async events alone takes its request frames from: asked for, and handed on on the writing thread.
/// </summary>
public sealed class RequestEndpointsTests
{
    private const string BeginRequest = "Microsoft.AspNetCore.Hosting.BeginRequest";
    private const string EndRequest = "Microsoft.AspNetCore.Hosting.EndRequest";

    [Fact]
    public void BeginAndEndRequestAreAskedForAndHandedOnOnTheWritingThread()
    {
        // A listener of the name hosting writes to, made here: AllListeners hands it to each subscriber at once.
        using var hosting = new DiagnosticListener("Microsoft.AspNetCore");
        var seen = new List<(string, int)>();
        using (var endpoints = RequestEndpoints.Start((_, _) => { }, (_, _) => { }, (_, _, _) => { }, (_, _, _) => { },
            (_ => seen.Add(("start", Environment.CurrentManagedThreadId)), _ => seen.Add(("stop", Environment.CurrentManagedThreadId)))))
        {
            Assert.True(hosting.IsEnabled(BeginRequest));
            Assert.True(hosting.IsEnabled(EndRequest));
            Assert.False(hosting.IsEnabled("Microsoft.AspNetCore.Hosting.HttpRequestIn")); // no activity started for it
            hosting.Write(BeginRequest, new object());
            hosting.Write(EndRequest, new object());
        }
        var thread = Environment.CurrentManagedThreadId;
        Assert.Equal([("start", thread), ("stop", thread)], seen);
    }
}
