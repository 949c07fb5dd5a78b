using Spindle.App.Variables;
using Spindle.Components.Host;
using Spindle.Components.Types;
using Spindle.Components.Values;

namespace Spindle.Trigger.Http.Spin;

/// <summary>
/// Spin's variables interfaces, <c>fermyon:spin/variables@2.0.0</c> and <c>spin:variables/variables@3.0.0</c>
/// (same shape: <c>get: func(name: string) -> result&lt;string, error&gt;</c>). A guest reads the component
/// variables of its own component, resolved through the application's <see cref="VariableResolver"/>; the store
/// data must implement <see cref="ISpinVariablesContext"/>. Values are returned to the guest only, never logged
/// and never put in error messages (they may be secrets).
/// </summary>
public static class SpinVariablesInterfaces
{
    /// <summary>Case indexes of the WIT <c>error</c> variant, in declaration order.</summary>
    public enum ErrorCase
    {
        /// <summary><c>invalid-name(string)</c>: not lower snake case.</summary>
        InvalidName = 0,

        /// <summary><c>undefined(string)</c>: the component declares no such variable.</summary>
        Undefined = 1,

        /// <summary><c>provider(string)</c>: a provider failed, or an application variable has no value.</summary>
        Provider = 2,

        /// <summary><c>other(string)</c>: anything else (for example, no resolver in this host).</summary>
        Other = 3,
    }

    /// <summary>The WIT <c>error</c> variant.</summary>
    public static VariantType ErrorType { get; } = T.Variant(
        ("invalid-name", T.String), ("undefined", T.String), ("provider", T.String), ("other", T.String));

    /// <summary>Declares both interfaces (their functions share one implementation).</summary>
    public static IReadOnlyList<HostInterface> Create() =>
    [
        Declare(new HostInterface("fermyon:spin/variables", "2.0.0")),
        Declare(new HostInterface("spin:variables/variables", "3.0.0")),
    ];

    /// <summary>Adds both interfaces to <paramref name="registry"/>.</summary>
    public static HostRegistry AddTo(HostRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        foreach (var i in Create())
            registry.Add(i);
        return registry;
    }

    /// <summary>
    /// The lookup behind <c>get</c>, as Spin's variables factor does it: the name must be a valid variable name
    /// (else <c>invalid-name</c>); a key the component does not declare is <c>undefined</c>; a referenced
    /// application variable without a value is a <c>provider</c> error.
    /// </summary>
    public static ResultValue Get(VariableResolver? resolver, string componentId, string name)
    {
        if (!VariableNames.IsValid(name))
            return Err(ErrorCase.InvalidName, $"invalid variable name '{name}': lower snake case expected (a-z, 0-9, '_', starting with a letter)");
        if (resolver is null)
            return Err(ErrorCase.Other, "variables are not available in this host");
        try
        {
            return resolver.GetComponentVariable(componentId, name) is { } value
                ? ResultValue.Ok(value)
                : Err(ErrorCase.Undefined, $"no variable for \"{componentId}\".\"{name}\"");
        }
        catch (VariableException e)
        {
            // The message names variables, never values.
            return Err(ErrorCase.Provider, e.Message);
        }
    }

    private static ResultValue Err(ErrorCase c, string message) => ResultValue.Err(new VariantValue((int)c, message));

    private static HostInterface Declare(HostInterface iface)
    {
        iface.DefineType("error", ErrorType);
        iface.DefineFunc("get", T.Func([("name", T.String)], T.Result(T.String, ErrorType)), (c, a) =>
        {
            var name = a[0] as string ?? throw new InvalidOperationException("variables.get: name is not a string");
            return c.StoreData is ISpinVariablesContext v
                ? Get(v.Variables, v.ComponentId, name)
                : Err(ErrorCase.Other, "variables are not available to this component");
        });
        return iface;
    }
}

/// <summary>Store data that gives a guest access to its component variables.</summary>
public interface ISpinVariablesContext
{
    /// <summary>The calling component's id (whose <c>variables</c> table is read).</summary>
    string ComponentId { get; }

    /// <summary>The application's resolver, or null when the host has none.</summary>
    VariableResolver? Variables { get; }
}
