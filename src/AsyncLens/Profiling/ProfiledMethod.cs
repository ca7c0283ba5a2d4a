using System.Reflection;
using AsyncLens.Runtime;
using AsyncLens.Symbols;

namespace AsyncLens.Profiling;

/// <summary>
/// An async method (or a delegate task's method) as the profile names it, with the line it starts at and whose code it is.
/// </summary>
internal sealed record ProfiledMethod(string Name, string? File, int Line, CodeKind Origin)
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<object, ProfiledMethod> s_cache = new();

    /// <summary>What <c>asynclens profile --pid</c> calls the tasks that were running before it attached (the events never named them).</summary>
    public static readonly ProfiledMethod StartedBeforeProfiling = new("(started before profiling)", null, 0, CodeKind.Unknown);

    // A key of the call tree's dictionaries, looked up at every level of every completed call: hashing its name and
    // file each time was most of the accounting's cost. Equal records still match (a name resolved twice).
    private int _hash;

    public bool Equals(ProfiledMethod? other) =>
        ReferenceEquals(this, other) || other is not null && GetHashCode() == other.GetHashCode()
        && Line == other.Line && Origin == other.Origin && string.Equals(Name, other.Name, StringComparison.Ordinal) && string.Equals(File, other.File, StringComparison.Ordinal);

    public override int GetHashCode()
    {
        if (_hash == 0)
            _hash = HashCode.Combine(StringComparer.Ordinal.GetHashCode(Name), File is null ? 0 : StringComparer.Ordinal.GetHashCode(File), Line, Origin) | 1;
        return _hash;
    }

    /// <summary>In process: from a box's type or a delegate task's method (and its operation name: Task.Run or ContinueWith).</summary>
    public static ProfiledMethod Of(object? code, string? operationName)
    {
        if (code is null)
            return operationName is null ? StartedBeforeProfiling : s_cache.GetOrAdd(operationName, static key => Unresolved((string)key));
        if (code is MethodInfo method && OperationNames.KindOf(operationName) == OperationKind.ContinueWith)
            return s_cache.GetOrAdd((method, true), static key => Resolve(((ValueTuple<MethodInfo, bool>)key).Item1, continueWith: true));
        return s_cache.GetOrAdd(code, static code => Resolve(code, continueWith: false));
    }

    private static ProfiledMethod Resolve(object code, bool continueWith)
    {
        try
        {
            if (code is BoxInfo box)
                return ForStateMachine(box.StateMachineType);
            if (code is MethodInfo method)
                return ForDelegate(method, continueWith);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
        }
        return Unresolved(code.ToString() ?? "");
    }

    /// <summary>
    /// The async method a state machine type runs, at the first line of its body. The type may be the runtime's or
    /// one read from a file (a MetadataLoadContext: <c>asynclens profile --pid</c> names another process's methods).
    /// </summary>
    public static ProfiledMethod ForStateMachine(Type stateMachine)
    {
        var first = MethodNames.FirstLine(stateMachine);
        return new ProfiledMethod(MethodNames.ForStateMachine(stateMachine), first?.File, first?.Line ?? 0, CodeOrigin.Kind(stateMachine.Assembly));
    }

    /// <summary>A runtime-async method (.NET 11's framework: no state machine), at its first line.</summary>
    public static ProfiledMethod ForMethod(MethodBase method)
    {
        var first = MethodNames.FirstLine(method);
        var kind = method.DeclaringType?.Assembly is { } assembly ? CodeOrigin.Kind(assembly) : CodeKind.Framework;
        return new ProfiledMethod(MethodNames.Format(method), first?.File, first?.Line ?? 0, kind);
    }

    /// <summary>A delegate task's method (<c>Task.Run(...)</c>, or <c>Task.ContinueWith(...)</c>), at its first line.</summary>
    public static ProfiledMethod ForDelegate(MethodInfo method, bool continueWith = false)
    {
        var first = MethodNames.FirstLine(method);
        var kind = method.DeclaringType?.Assembly is { } assembly ? CodeOrigin.Kind(assembly) : CodeKind.Framework;
        return new ProfiledMethod($"{(continueWith ? "Task.ContinueWith" : "Task.Run")}({MethodNames.Format(method)})", first?.File, first?.Line ?? 0, kind);
    }

    /// <summary>
    /// A name the events leave open: several methods compile to a state machine (or lambda) of that short name.
    /// Named after all of them (or their count), never after one picked: <c>Client.SendAsync() or Server.SendAsync(int) (ambiguous)</c>.
    /// Its code is the user's if any candidate is, else a package's if any is.
    /// </summary>
    public static ProfiledMethod Ambiguous(string operationName, IReadOnlyList<ProfiledMethod> candidates)
    {
        var names = candidates.Select(c => c.Name).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var name = names.Count <= 3
            ? $"{string.Join(" or ", names)} (ambiguous)"
            : $"{Unresolved(operationName).Name}: one of {names.Count} methods (ambiguous)";
        var kind = candidates.Any(c => c.Origin == CodeKind.User) ? CodeKind.User : candidates.Any(c => c.Origin == CodeKind.Package) ? CodeKind.Package : CodeKind.Framework;
        return new ProfiledMethod(name, null, 0, kind);
    }

    /// <summary>"Async: &lt;FetchAsync&gt;d__3" -> "FetchAsync": a box never seen running, or a name no file of the process explains.</summary>
    public static ProfiledMethod Unresolved(string operationName)
    {
        var name = operationName;
        foreach (var prefix in OperationNames.Prefixes)
        {
            if (name.StartsWith(prefix, StringComparison.Ordinal))
                name = name[prefix.Length..];
        }
        if (name.StartsWith('<') && MethodNames.ClosingBracket(name) is var close and > 1)
            name = name[1..close];
        return new ProfiledMethod(name.Length == 0 ? "(unknown)" : name, null, 0, CodeKind.User);
    }
}
