using System.Reflection;
using AsyncLens.Cli.Remote;
using AsyncLens.Profiling;
using AsyncLens.Symbols;

namespace AsyncLens.Cli.Profiling;

/// <summary>
/// Names for the profile of a process read from outside. Its events name a box only by its state machine's type
/// name, without namespace or declaring type (<c>"Async: &lt;FetchAsync&gt;d__3"</c>), and a delegate task by its
/// method's name (<c>"Task: &lt;Main&gt;b__0_0"</c>); the runtime's registry, which gives the in-process profiler the
/// box itself, is out of reach. So the types of that name are looked up in the modules the process has loaded (read
/// as metadata by <see cref="RemoteSymbols"/>): one type gives the method as written and its first line; several
/// (two classes with a <c>HandleAsync</c> at the same position) cannot be told apart from the events, and the name
/// lists them all, marked ambiguous. Used on the one thread that reads the events.
/// </summary>
internal sealed class TargetMethodNames(RemoteSymbols symbols) : IProfileNames
{
    private readonly HashSet<string> _modules = new(StringComparer.Ordinal);
    private readonly List<string> _notIndexed = [];
    private readonly List<string> _userModules = [];
    private readonly Dictionary<string, List<MemberInfo>> _stateMachines = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ProfiledMethod> _byOperation = new(StringComparer.Ordinal);
    private readonly Dictionary<(MemberInfo, bool), ProfiledMethod> _byCode = [];
    private readonly SortedSet<string> _ambiguous = new(StringComparer.Ordinal);

    /// <summary>The operation names that more than one method of the process compiles to (each is named as ambiguous).</summary>
    public IReadOnlyCollection<string> Ambiguous => _ambiguous;

    /// <summary>A module the process has loaded (at the start, or since): its types become candidates from now on.</summary>
    public void ModuleLoaded(string path)
    {
        if (path.Length == 0 || !_modules.Add(path))
            return;
        symbols.AddModule(path);
        _notIndexed.Add(path);
        // A name seen before may now have a second candidate: later events with it are looked up again.
        _byOperation.Clear();
    }

    object? IProfileNames.CodeOf(int taskId) => null;

    void IProfileNames.Completed(int taskId)
    {
    }

    public CodeKind KindOf(object? code, string? operationName) => MethodOf(code, operationName).Origin;

    public ProfiledMethod MethodOf(object? code, string? operationName)
    {
        if (operationName is null)
            return ProfiledMethod.StartedBeforeProfiling;
        if (_byOperation.TryGetValue(operationName, out var known))
            return known;
        IndexNewModules();
        var kind = OperationNames.KindOf(operationName);
        IEnumerable<MemberInfo> candidates = kind switch
        {
            OperationKind.AsyncMethod => _stateMachines.GetValueOrDefault(operationName[OperationNames.AsyncMethod.Length..]) ?? [],
            OperationKind.Delegate => Delegates(operationName[OperationNames.Delegate.Length..]),
            OperationKind.ContinueWith => Delegates(operationName[OperationNames.ContinueWith.Length..]),
            _ => [],
        };
        var methods = candidates.Select(c => Method(c, kind == OperationKind.ContinueWith)).ToList();
        if (methods.Count > 1)
            _ambiguous.Add(operationName);
        var method = methods.Count switch
        {
            // A delegate is looked for in the app's modules (its own and its packages'): one not there is the framework's.
            0 when kind is OperationKind.Delegate or OperationKind.ContinueWith => ProfiledMethod.Unresolved(operationName) with { Origin = CodeKind.Framework },
            0 => ProfiledMethod.Unresolved(operationName),
            1 => methods[0],
            _ => ProfiledMethod.Ambiguous(operationName, methods),
        };
        _byOperation[operationName] = method;
        return method;
    }

    // The state machines of every module not indexed yet, by their short name (generic ones with their `N).
    private void IndexNewModules()
    {
        foreach (var path in _notIndexed)
        {
            var user = false;
            foreach (var type in symbols.TypesIn(path))
            {
                user |= CodeOrigin.IsUserCode(type.Assembly);
                // <FetchAsync>d__3, and async lambdas' and local functions' <<Main>b__0_2>d, <<Get>g__RentAsync|33_0>d.
                if (type.IsNested && type.Name.StartsWith('<') && IsStateMachine(type))
                {
                    if (!_stateMachines.TryGetValue(type.Name, out var list))
                        _stateMachines[type.Name] = list = [];
                    list.Add(type);
                }
            }
            if (user)
                _userModules.Add(path);
        }
        _notIndexed.Clear();
    }

    // A delegate task's method, by name, in the app's own modules (the framework's are not searched: its delegate tasks are named by their method name alone).
    private List<MemberInfo> Delegates(string name)
    {
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        var found = new List<MemberInfo>();
        foreach (var path in _userModules)
        {
            foreach (var type in symbols.TypesIn(path))
            {
                foreach (var method in Try(() => type.GetMethods(all)) ?? [])
                {
                    if (method.Name == name)
                        found.Add(method);
                }
            }
        }
        return found;
    }

    private ProfiledMethod Method(MemberInfo code, bool continueWith)
    {
        if (!_byCode.TryGetValue((code, continueWith), out var method))
        {
            method = Try(() => code is Type type ? ProfiledMethod.ForStateMachine(type) : ProfiledMethod.ForDelegate((MethodInfo)code, continueWith))
                ?? ProfiledMethod.Unresolved(code.Name);
            _byCode[(code, continueWith)] = method;
        }
        return method;
    }

    private static bool IsStateMachine(Type type) => Try(() => MethodNames.IsStateMachine(type) ? type : null) is not null;

    private static T? Try<T>(Func<T?> read) where T : class => RemoteSymbols.Try(read);
}
