using System.Reflection;
using AsyncLens.Runtime;

namespace AsyncLens.Profiling;

/// <summary>An async method (or a delegate task's method) as the profile names it, with the line it starts at.</summary>
internal sealed record ProfiledMethod(string Name, string? File, int Line, bool IsUser)
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<object, ProfiledMethod> s_cache = new();

    // A key of the call tree's dictionaries, looked up at every level of every completed call: hashing its name and
    // file each time was most of the accounting's cost. Equal records still match (a name resolved twice).
    private int _hash;

    public bool Equals(ProfiledMethod? other) =>
        ReferenceEquals(this, other) || other is not null && GetHashCode() == other.GetHashCode()
        && Line == other.Line && IsUser == other.IsUser && string.Equals(Name, other.Name, StringComparison.Ordinal) && string.Equals(File, other.File, StringComparison.Ordinal);

    public override int GetHashCode()
    {
        if (_hash == 0)
            _hash = HashCode.Combine(StringComparer.Ordinal.GetHashCode(Name), File is null ? 0 : StringComparer.Ordinal.GetHashCode(File), Line, IsUser) | 1;
        return _hash;
    }

    public static ProfiledMethod Of(object? code, string? operationName)
    {
        if (code is null)
            return s_cache.GetOrAdd(operationName ?? "", static key => Unresolved((string)key));
        return s_cache.GetOrAdd(code, static code => Resolve(code));
    }

    private static ProfiledMethod Resolve(object code)
    {
        try
        {
            if (code is BoxInfo box)
                return ForStateMachine(box.StateMachineType);
            if (code is MethodInfo method)
                return ForDelegate(method);
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
        var moveNext = stateMachine.GetMethod("MoveNext", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic);
        var first = moveNext is null ? null : Symbols.MethodSymbols.Lines(moveNext)?.AtOrAfter(0);
        var user = Symbols.CodeOrigin.IsUserCode(stateMachine.Assembly);
        return new ProfiledMethod(Symbols.MethodNames.ForStateMachine(stateMachine), first?.File, first?.Line ?? 0, user);
    }

    /// <summary>A delegate task's method (<c>Task.Run(...)</c>), at its first line.</summary>
    public static ProfiledMethod ForDelegate(MethodInfo method)
    {
        var first = Symbols.MethodSymbols.Lines(method)?.AtOrAfter(0);
        return new ProfiledMethod($"Task.Run({Symbols.MethodNames.Format(method)})", first?.File, first?.Line ?? 0, Symbols.CodeOrigin.IsUserCode(method));
    }

    /// <summary>
    /// A name the events leave open: several methods compile to a state machine (or lambda) of that short name.
    /// Named after all of them (or their count), never after one picked: <c>Client.SendAsync() or Server.SendAsync(int) (ambiguous)</c>.
    /// Listed, not folded, unless every candidate is framework code.
    /// </summary>
    public static ProfiledMethod Ambiguous(string operationName, IReadOnlyList<ProfiledMethod> candidates)
    {
        var names = candidates.Select(c => c.Name).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var name = names.Count <= 3
            ? $"{string.Join(" or ", names)} (ambiguous)"
            : $"{Unresolved(operationName).Name}: one of {names.Count} methods (ambiguous)";
        return new ProfiledMethod(name, null, 0, candidates.Any(c => c.IsUser));
    }

    /// <summary>"Async: &lt;FetchAsync&gt;d__3" -> "FetchAsync": a box never seen running, or a name no file of the process explains.</summary>
    public static ProfiledMethod Unresolved(string operationName)
    {
        var name = operationName.StartsWith("Async: ", StringComparison.Ordinal) ? operationName[7..] : operationName;
        if (name.StartsWith('<') && Symbols.MethodNames.ClosingBracket(name) is var close and > 1)
            name = name[1..close];
        return new ProfiledMethod(name.Length == 0 ? "(unknown)" : name, null, 0, true);
    }
}
