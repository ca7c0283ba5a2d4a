using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace AsyncLens.Tracking;

/// <summary>
/// One real stack per creation context. A stack trace costs ~25 µs, far too much per task, but
/// the same step of the same method creates the same kind of task from the same line over and
/// over: the first creation in a context (creator code, the await it resumed from, the task's
/// name) pays for one capture, and every later one shares it.
/// </summary>
internal sealed class CreationSamples
{
    // A sample is a few KB of frames; an app has hundreds of creation contexts, not thousands.
    private const int MaxContexts = 5_000;

    private readonly ConcurrentDictionary<Key, CreationSample> _samples = new();
    private int _count;

    public int Count => Volatile.Read(ref _count);

    /// <summary>
    /// The sample of the context (the creator's code, the await it resumed from, the task's name), taken now if it is the
    /// first; with the ASP.NET Core <paramref name="endpoint"/> whose handler runs on the thread, if any (the JIT may have
    /// inlined the handler's frame away from the stack).
    /// </summary>
    public CreationSample? For(object? creatorCode, int creatorState, string operationName, object? endpoint)
    {
        var key = new Key(creatorCode, creatorState, operationName);
        if (_samples.TryGetValue(key, out var sample))
            return sample;
        if (Volatile.Read(ref _count) >= MaxContexts)
            return null;
        sample = new CreationSample(new StackTrace(1, fNeedFileInfo: false).GetFrames(), endpoint);
        if (_samples.TryAdd(key, sample))
            Interlocked.Increment(ref _count);
        return sample;
    }

    private readonly struct Key(object? code, int state, string name) : IEquatable<Key>
    {
        private readonly object? _code = code;
        private readonly int _state = state;
        private readonly string _name = name;

        public bool Equals(Key other) => ReferenceEquals(_code, other._code) && _state == other._state && string.Equals(_name, other._name, StringComparison.Ordinal);

        public override bool Equals(object? obj) => obj is Key k && Equals(k);

        // The name is a fresh string per task ("Async: <Name>d__N"): hashing all of it costs more than the lookup.
        // Its length and a few characters separate names well enough; Equals compares the whole.
        public override int GetHashCode() => HashCode.Combine(
            _code is null ? 0 : RuntimeHelpers.GetHashCode(_code), _state, _name.Length,
            _name.Length > 0 ? _name[^1] : 0, _name.Length > 1 ? _name[^2] : 0, _name.Length > 8 ? _name[8] : 0, _name.Length > 0 ? _name[_name.Length / 2] : 0);
    }
}

/// <summary>The frames of the stack that created the first task of one context, and the endpoint whose handler ran then.</summary>
internal sealed class CreationSample(StackFrame[] frames, object? endpoint)
{
    public StackFrame[] Frames { get; } = frames;

    /// <summary>The ASP.NET Core endpoint (see <see cref="RequestEndpoints"/>) whose handler was running, or null.</summary>
    public object? Endpoint { get; } = endpoint;
}
