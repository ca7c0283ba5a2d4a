using System.Reflection;
using AsyncLens.Runtime.Layout;

namespace AsyncLens.Runtime;

/// <summary>
/// The cancellation sources an async method holds: its state machine's fields (its parameters, and the locals that live
/// across an await) of type <see cref="CancellationTokenSource"/> or <see cref="CancellationToken"/> (through the token's
/// private source, <see cref="CancellationLayout"/>). A token that cannot be cancelled (<c>CancellationToken.None</c>) has none.
/// </summary>
internal static class HeldTokens
{
    private static readonly FieldInfo? s_source = typeof(CancellationToken).GetField(CancellationLayout.Source, FieldAccessor.Instance);

    /// <summary>Each source (held as a token, or as the source itself) with the name the code gives it: a parameter's name, a local's name (<c>&lt;cts&gt;5__2</c> is <c>cts</c>).</summary>
    public static IEnumerable<(string Name, CancellationTokenSource Source, bool IsToken)> Of(object stateMachine)
    {
        foreach (var field in stateMachine.GetType().GetFields(FieldAccessor.Instance))
        {
            object? value;
            try
            {
                value = field.GetValue(stateMachine);
            }
            catch (Exception ex) when (ex is FieldAccessException or ArgumentException or NotSupportedException)
            {
                continue;
            }
            var source = value switch
            {
                CancellationTokenSource cts => cts,
                CancellationToken token when token.CanBeCanceled => s_source?.GetValue(token) as CancellationTokenSource,
                _ => null,
            };
            if (source is not null)
                yield return (NameOf(field.Name), source, field.FieldType == typeof(CancellationToken));
        }
    }

    private static string NameOf(string field) =>
        field.StartsWith('<') && field.IndexOf('>') is > 1 and var close ? field[1..close] : field;
}
