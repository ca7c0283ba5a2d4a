using AsyncLens.Tracking;
using Xunit;

namespace AsyncLens.Tests.Tracking;

/// <summary>
/// Which handler of the app's a framework's activity names (<see cref="HandlerActivities"/>): a tag whose value is a
/// class of the app's, by name, full name or assembly-qualified name; the handler is that class's one method that
/// implements an interface. Classes of this test assembly stand for the app's.
/// </summary>
public sealed class HandlerActivitiesTests
{
    public interface IHandles<in T>
    {
        Task Handle(T message);
    }

    public interface IRuns
    {
        ValueTask Run(CancellationToken cancellationToken);
    }

    public sealed class ShipmentHandler : IHandles<int>, IDisposable
    {
        public Task Handle(int message) => Task.CompletedTask;

        public void Helper()
        {
        }

        public void Dispose()
        {
        }
    }

    public sealed class TwoMessagesHandler : IHandles<int>, IHandles<string>
    {
        public Task Handle(int message) => Task.CompletedTask;

        public Task Handle(string message) => Task.CompletedTask;
    }

    public sealed record NightlyJob(int Id) : IRuns
    {
        public ValueTask Run(CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }

    [Fact]
    public void A_tag_naming_a_class_by_name_full_name_or_assembly_qualified_name_names_its_interface_method()
    {
        var handle = typeof(ShipmentHandler).GetMethod(nameof(ShipmentHandler.Handle));
        Assert.Same(handle, HandlerActivities.HandlerNamedIn(Tags(("messaging.consumer_type", nameof(ShipmentHandler)))));
        Assert.Same(handle, HandlerActivities.HandlerNamedIn(Tags(("job.type", typeof(ShipmentHandler).FullName))));
        Assert.Same(handle, HandlerActivities.HandlerNamedIn(Tags(("job.type", typeof(ShipmentHandler).FullName!.Replace('+', '.')))));
        Assert.Same(handle, HandlerActivities.HandlerNamedIn(Tags(("job.type", $"{typeof(ShipmentHandler).FullName}, {typeof(ShipmentHandler).Assembly.GetName().Name}"))));
        Assert.Same(handle, HandlerActivities.HandlerNamedIn(Tags(("handler", typeof(ShipmentHandler)))));
    }

    [Fact]
    public void The_first_tag_that_names_a_handler_decides_and_other_values_name_nothing()
    {
        Assert.Null(HandlerActivities.HandlerNamedIn(Tags(("messaging.message_id", "fa280000-9edd-e4b6-4acd-08df530cef66"),
            ("destination", "loopback://localhost/urn:message:Jobs:OrderPlaced"), ("operation", "process"), ("count", 3))));
        Assert.Same(typeof(NightlyJob).GetMethod(nameof(NightlyJob.Run)),
            HandlerActivities.HandlerNamedIn(Tags(("operation", "process"), ("job.type", nameof(NightlyJob)), ("consumer", nameof(ShipmentHandler)))));
        Assert.Null(HandlerActivities.HandlerNamedIn(null));
        // A database, a queue named like a class of the app's: the key does not say it holds a type.
        Assert.Null(HandlerActivities.HandlerNamedIn(Tags(("db.name", nameof(ShipmentHandler)), ("messaging.destination.name", nameof(NightlyJob)))));
    }

    [Fact]
    public void OpenTelemetry_code_attributes_name_the_method_itself()
    {
        Assert.Same(typeof(ShipmentHandler).GetMethod(nameof(ShipmentHandler.Helper)),
            HandlerActivities.HandlerNamedIn(Tags(("code.namespace", typeof(ShipmentHandler).FullName), ("code.function", nameof(ShipmentHandler.Helper)))));
        // An overloaded name names nothing; the other tags still may.
        Assert.Same(typeof(NightlyJob).GetMethod(nameof(NightlyJob.Run)), HandlerActivities.HandlerNamedIn(Tags(
            ("code.namespace", typeof(TwoMessagesHandler).FullName), ("code.function", nameof(TwoMessagesHandler.Handle)), ("job.type", nameof(NightlyJob)))));
    }

    [Fact]
    public void A_class_with_several_interface_methods_of_its_own_names_none_and_the_System_interfaces_do_not_count()
    {
        Assert.Null(HandlerActivities.HandlerOf(typeof(TwoMessagesHandler)));
        // IDisposable's Dispose and a record's IEquatable<T>.Equals are not what a framework dispatches to.
        Assert.Equal(nameof(ShipmentHandler.Handle), HandlerActivities.HandlerOf(typeof(ShipmentHandler))?.Name);
        Assert.Equal(nameof(NightlyJob.Run), HandlerActivities.HandlerOf(typeof(NightlyJob))?.Name);
        Assert.Null(HandlerActivities.HandlerOf(typeof(IHandles<int>)));
        Assert.Null(HandlerActivities.HandlerOf(typeof(string)));
    }

    private static KeyValuePair<string, object?>[] Tags(params (string Key, object? Value)[] tags) =>
        [.. tags.Select(t => new KeyValuePair<string, object?>(t.Key, t.Value))];
}
