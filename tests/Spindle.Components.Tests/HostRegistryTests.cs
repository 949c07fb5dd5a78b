using Spindle.Components.Host;
using Spindle.Components.Types;

namespace Spindle.Components.Tests;

public class HostRegistryTests
{
    [Theory]
    [InlineData("0.2.3", "0.2.6", true)]
    [InlineData("0.2.10", "0.2.0", true)]
    [InlineData("0.2.3", "0.3.0", false)]
    [InlineData("1.0.0", "1.4.2", true)]
    [InlineData("1.0.0", "2.0.0", false)]
    [InlineData("0.0.1", "0.0.2", false)]
    [InlineData("0.2.0-rc-2023-11-10", "0.2.0", false)]
    [InlineData("0.2.0-rc-2023-11-10", "0.2.0-rc-2023-11-10", true)]
    public void Semver_compatibility(string a, string b, bool expected)
    {
        Assert.Equal(expected, HostRegistry.Compatible(a, b));
        Assert.Equal(expected, HostRegistry.Compatible(b, a));
    }

    [Fact]
    public void Resolves_by_name_and_compatible_version()
    {
        var streams6 = new HostInterface("wasi:io/streams", "0.2.6");
        var spin = new HostInterface("fermyon:spin/variables", "2.0.0");
        var registry = new HostRegistry().Add(streams6).Add(spin);
        Assert.Same(streams6, registry.Resolve("wasi:io/streams@0.2.3"));
        Assert.Same(streams6, registry.Resolve("wasi:io/streams@0.2.12"));
        Assert.Null(registry.Resolve("wasi:io/streams@0.3.0"));
        Assert.Null(registry.Resolve("wasi:io/poll@0.2.6"));
        Assert.Same(spin, registry.Resolve("fermyon:spin/variables@2.0.0"));
    }

    [Fact]
    public void An_unversioned_import_resolves_only_to_the_unversioned_interface_of_that_name()
    {
        // Spin's first-generation fermyon:spin/key-value has other types than fermyon:spin/key-value@2.0.0.
        var v2 = new HostInterface("fermyon:spin/key-value", "2.0.0");
        var registry = new HostRegistry().Add(v2);
        Assert.Null(registry.Resolve("fermyon:spin/key-value"));
        var legacy = new HostInterface("fermyon:spin/key-value", "");
        registry.Add(legacy);
        Assert.Same(legacy, registry.Resolve("fermyon:spin/key-value"));
        Assert.Same(v2, registry.Resolve("fermyon:spin/key-value@2.0.0"));
        Assert.Equal("fermyon:spin/key-value", legacy.ToString());
    }

    [Fact]
    public void Compatible_duplicates_are_refused() =>
        Assert.Throws<InvalidOperationException>(() =>
            new HostRegistry().Add(new HostInterface("wasi:io/poll", "0.2.0")).Add(new HostInterface("wasi:io/poll", "0.2.6")));
}

public class TypeEqualityTests
{
    [Fact]
    public void Structural_equality_and_printing()
    {
        var iface = new HostInterface("wasi:io/streams", "0.2.6");
        var stream = iface.DefineResource("output-stream");
        var other = new HostInterface("x:y/z", "0.1.0").DefineResource("output-stream");
        ValType a = T.Result(T.List(T.U8), T.Variant(("closed", null), ("last-operation-failed", T.Own(stream))));
        ValType b = T.Result(T.List(T.U8), T.Variant(("closed", null), ("last-operation-failed", T.Own(stream))));
        ValType c = T.Result(T.List(T.U8), T.Variant(("closed", null), ("last-operation-failed", T.Own(other))));
        ValType d = T.Result(T.List(T.U8), T.Variant(("closed", null), ("failed", T.Own(stream))));
        Assert.True(TypeEquality.Equal(a, b));
        Assert.False(TypeEquality.Equal(a, c)); // same name, different resource
        Assert.False(TypeEquality.Equal(a, d)); // case names matter
        Assert.Equal("result<list<u8>, variant { closed, last-operation-failed(own<output-stream>) }>", TypePrinter.Print(a));
        Assert.Equal("func(self: borrow<output-stream>, contents: list<u8>) -> result",
            TypePrinter.Print(T.Func([("self", T.Borrow(stream)), ("contents", T.List(T.U8))], T.Result())));
    }
}
