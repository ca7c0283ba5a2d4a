using System.Reflection;

namespace AsyncLens.Symbols;

/// <summary>
/// The instantiation of a generic method whose code is shared (every reference-type instantiation runs the same code:
/// a frame's code address names only the definition, <c>HttpConnection.ProcessRequestsAsync&lt;TContext&gt;</c>), told by
/// the objects the frame holds: a .NET 11 runtime-async frame keeps its live variables in its continuation, among them
/// <c>this</c> and the parameters it still uses. A generic parameter is bound when a held object's type, or one of its
/// bases or interfaces, is an instantiation of <c>this</c>'s type or of a parameter's generic type
/// (<c>IHttpApplication&lt;TContext&gt;</c>, <c>JsonTypeInfo&lt;T&gt;</c>), and every such object says the same; a parameter
/// typed as a bare <c>T</c> tells nothing (any held object would match it). What stays unbound prints as written
/// (<see cref="GenericContext.Resolve"/>). Works on types read from another process's files (a MetadataLoadContext) too.
/// </summary>
internal static class GenericBinding
{
    /// <summary>True when <paramref name="method"/> has generic parameters of its own or of its type to bind.</summary>
    public static bool IsOpen(MethodBase method) =>
        method.IsGenericMethodDefinition || method.DeclaringType is { IsGenericTypeDefinition: true };

    /// <summary>The arguments bound from <paramref name="held"/>; default when none is.</summary>
    public static GenericContext Of(MethodBase method, IEnumerable<Type> held)
    {
        if (!IsOpen(method))
            return default;
        var owner = method.DeclaringType;
        var patterns = new List<Type>();
        if (!method.IsStatic && owner is { IsGenericTypeDefinition: true })
            patterns.Add(owner);
        foreach (var parameter in method.GetParameters())
        {
            var type = parameter.ParameterType.IsByRef ? parameter.ParameterType.GetElementType()! : parameter.ParameterType;
            if (type.IsGenericType && type.ContainsGenericParameters)
                patterns.Add(type);
        }
        if (patterns.Count == 0)
            return default;

        // A parameter bound to two different types by two objects is left unbound (null).
        var bound = new Dictionary<Type, Type?>();
        var found = new Dictionary<Type, Type>();
        foreach (var type in held)
        {
            foreach (var pattern in patterns)
            {
                found.Clear();
                if (Instance(type, pattern) is not { } instance || !Unify(pattern, instance, found))
                    continue;
                foreach (var (parameter, argument) in found)
                    bound[parameter] = bound.TryGetValue(parameter, out var before) && before is not null && before != argument ? null : argument;
            }
        }
        if (bound.Count == 0)
            return default;
        var typeArgs = owner is { IsGenericTypeDefinition: true } ? Arguments(owner.GetGenericArguments(), bound) : null;
        var methodArgs = method.IsGenericMethodDefinition ? Arguments(method.GetGenericArguments(), bound) : null;
        return new GenericContext(typeArgs, methodArgs);
    }

    /// <summary>
    /// Shares what adjacent frames of one chain know (<paramref name="chain"/> outermost first, each with the IL offset
    /// it is suspended at and what it holds told): a caller suspended at a call of its callee's method passes its own
    /// generic parameters there (<c>ProcessRequestsAsync&lt;TContext&gt;</c> awaiting <c>ProcessRequests&lt;TContext&gt;</c>),
    /// as its IL spells the call; so a callee's bound argument binds the caller's parameter, and the reverse.
    /// </summary>
    /// <param name="chain">The frames.</param>
    /// <param name="resolve">Resolves the callers' call tokens where their modules cannot (see <see cref="IlReader.Calls"/>).</param>
    public static void Propagate(IList<(MethodBase Method, int ILOffset, GenericContext Context)> chain, MethodResolver? resolve = null)
    {
        for (var pass = 0; pass < 2; pass++)
        {
            for (var i = 0; i + 1 < chain.Count; i++)
            {
                var (caller, callee) = (chain[i], chain[i + 1]);
                if (!IsOpen(caller.Method) && !IsOpen(callee.Method))
                    continue;
                var (call, exact) = CallAt(caller.Method, caller.ILOffset, callee.Method, resolve);
                if (call is null)
                    continue;
                // A call through an interface or a base method passes the callee's own generic arguments only: its
                // type's are the implementing type's, not the interface's.
                var passed = exact ? Arguments(call) : call.IsGenericMethod ? call.GetGenericArguments() : [];
                var calleeParameters = exact ? Parameters(callee.Method) : callee.Method.IsGenericMethodDefinition ? callee.Method.GetGenericArguments() : [];
                if (passed.Length != calleeParameters.Length)
                    continue;
                var found = new Dictionary<Type, Type>();
                for (var k = 0; k < passed.Length; k++)
                {
                    // Callee to caller: what the callee's parameter is bound to, the caller's spelling of it unifies with.
                    if (callee.Context.Resolve(calleeParameters[k]) is { } known && passed[k].ContainsGenericParameters && !Unify(passed[k], known, found))
                        found.Clear();
                }
                chain[i] = (caller.Method, caller.ILOffset, With(caller.Method, caller.Context, found));
                found.Clear();
                for (var k = 0; k < passed.Length; k++)
                {
                    // Caller to callee: the caller's spelling with its bound parameters substituted.
                    if (Substitute(passed[k], chain[i].Context) is { } closed)
                        found[calleeParameters[k]] = closed;
                }
                chain[i + 1] = (callee.Method, callee.ILOffset, With(callee.Method, callee.Context, found));
            }
        }
    }

    // The call of the callee's method in the caller's body nearest before (or at) the offset the caller is suspended at:
    // the method itself (exact), or the interface or base method it implements, called virtually.
    private static (MethodBase? Call, bool Exact) CallAt(MethodBase caller, int ilOffset, MethodBase callee, MethodResolver? resolve)
    {
        (MethodBase? Call, bool Exact) best = (null, false);
        var bestOffset = int.MinValue;
        foreach (var call in resolve is null ? MethodSymbols.Calls(caller) : IlReader.Calls(caller, resolve))
        {
            if (call.TakesAddress || call.Offset > ilOffset || call.Offset < bestOffset)
                continue;
            var exact = call.Target.MetadataToken == callee.MetadataToken && Equals(call.Target.Module, callee.Module);
            if (exact || Implements(callee, call.Target))
                (best, bestOffset) = ((call.Target, exact), call.Offset);
        }
        return best;
    }

    // True when the callee can be what the virtual method called runs: same name (or its explicit implementation's),
    // same arities. Its type is not asked to implement it: an inherited method implements an interface of a derived
    // class (Kestrel's HttpProtocol.ProcessRequestsAsync, IRequestProcessor's on Http1Connection), and the call is the
    // nearest before the offset the caller is suspended at, the one it awaits.
    private static bool Implements(MethodBase callee, MethodBase called) =>
        called.IsVirtual
        && (callee.Name == called.Name || callee.Name.EndsWith("." + called.Name, StringComparison.Ordinal))
        && callee.GetParameters().Length == called.GetParameters().Length
        && (callee.IsGenericMethod ? callee.GetGenericArguments().Length : 0) == (called.IsGenericMethod ? called.GetGenericArguments().Length : 0);

    // The generic arguments of a (possibly constructed) method: its type's, then its own.
    private static Type[] Arguments(MethodBase method) =>
        [.. method.DeclaringType is { IsGenericType: true } t ? t.GetGenericArguments() : [], .. method.IsGenericMethod ? method.GetGenericArguments() : []];

    private static Type[] Parameters(MethodBase definition) =>
        [.. definition.DeclaringType is { IsGenericTypeDefinition: true } t ? t.GetGenericArguments() : [], .. definition.IsGenericMethodDefinition ? definition.GetGenericArguments() : []];

    private static GenericContext With(MethodBase method, GenericContext context, Dictionary<Type, Type> found)
    {
        if (found.Count == 0)
            return context;
        var bound = new Dictionary<Type, Type?>();
        foreach (var (parameter, argument) in found)
            bound[parameter] = argument;
        var owner = method.DeclaringType;
        Type[]? typeArgs = owner is { IsGenericTypeDefinition: true } ? Merge(owner.GetGenericArguments(), context.TypeArguments, bound) : context.TypeArguments;
        Type[]? methodArgs = method.IsGenericMethodDefinition ? Merge(method.GetGenericArguments(), context.MethodArguments, bound) : context.MethodArguments;
        return new GenericContext(typeArgs, methodArgs);
    }

    // What was bound stays; a parameter still open takes what was found.
    private static Type[] Merge(Type[] parameters, Type[]? before, Dictionary<Type, Type?> bound) =>
        Array.ConvertAll(parameters, p => before is not null && p.GenericParameterPosition < before.Length && !before[p.GenericParameterPosition].IsGenericParameter
            ? before[p.GenericParameterPosition]
            : bound.TryGetValue(p, out var t) && t is not null ? t : p);

    // The type with the context's bound parameters put in; null while a parameter in it is unbound.
    private static Type? Substitute(Type type, GenericContext context)
    {
        if (type.IsGenericParameter)
            return context.Resolve(type);
        if (!type.ContainsGenericParameters)
            return type;
        if (type.IsArray)
            return Substitute(type.GetElementType()!, context) is { } element ? (type.GetArrayRank() == 1 && type.IsSZArray ? element.MakeArrayType() : element.MakeArrayType(type.GetArrayRank())) : null;
        if (!type.IsGenericType)
            return null;
        var args = type.GetGenericArguments();
        for (var i = 0; i < args.Length; i++)
        {
            if (Substitute(args[i], context) is not { } closed)
                return null;
            args[i] = closed;
        }
        return type.GetGenericTypeDefinition().MakeGenericType(args);
    }

    private static Type[] Arguments(Type[] parameters, Dictionary<Type, Type?> bound) =>
        Array.ConvertAll(parameters, p => bound.TryGetValue(p, out var t) && t is not null ? t : p);

    // The one instantiation of the pattern's generic type among the type, its bases and interfaces; null when none or several.
    private static Type? Instance(Type type, Type pattern)
    {
        var definition = pattern.GetGenericTypeDefinition();
        if (definition.IsInterface)
        {
            Type? only = null;
            foreach (var candidate in type.IsInterface ? [type, .. type.GetInterfaces()] : type.GetInterfaces())
            {
                if (candidate.IsGenericType && candidate.GetGenericTypeDefinition() == definition)
                {
                    if (only is not null)
                        return null;
                    only = candidate;
                }
            }
            return only;
        }
        for (var t = type; t is not null; t = t.BaseType)
        {
            if (t.IsGenericType && t.GetGenericTypeDefinition() == definition)
                return t;
        }
        return null;
    }

    // Binds the generic parameters in the pattern so that it spells the closed type; false where they differ.
    private static bool Unify(Type pattern, Type closed, Dictionary<Type, Type> found)
    {
        if (pattern.IsGenericParameter)
        {
            if (found.TryGetValue(pattern, out var before))
                return before == closed;
            found[pattern] = closed;
            return true;
        }
        if (!pattern.ContainsGenericParameters)
            return pattern == closed;
        if (pattern.IsArray)
            return closed.IsArray && pattern.GetArrayRank() == closed.GetArrayRank() && Unify(pattern.GetElementType()!, closed.GetElementType()!, found);
        if (!pattern.IsGenericType || !closed.IsGenericType || pattern.GetGenericTypeDefinition() != closed.GetGenericTypeDefinition())
            return false;
        var (want, have) = (pattern.GetGenericArguments(), closed.GetGenericArguments());
        for (var i = 0; i < want.Length; i++)
        {
            if (!Unify(want[i], have[i], found))
                return false;
        }
        return true;
    }
}
