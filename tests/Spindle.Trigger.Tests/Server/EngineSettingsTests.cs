using Spindle.Engine;
using Spindle.Hosting;

namespace Spindle.Trigger.Tests.Server;

/// <summary>The measured engine defaults (bench/README.md) and the checks of every setting.</summary>
public sealed class EngineSettingsTests
{
    [Fact]
    public void The_defaults_are_the_measured_ones()
    {
        var main = SpindleEngine.DefaultEngineOptions();
        Assert.True(main.Pooling);
        Assert.Equal(4096u, main.TotalCoreInstances);
        Assert.Equal(4096u, main.TotalMemories);
        Assert.Equal(4096u, main.TotalTables);
        Assert.Equal(8UL << 20, main.AsyncStackSize);
        Assert.Equal(128UL << 10, main.LinearMemoryKeepResident);
        Assert.Equal(64UL << 10, main.TableKeepResident);
        Assert.True(main.WarmUpMemories);
        Assert.Null(main.MaxUnusedWarmSlots);
        Assert.Null(main.CacheDirectory);
        Assert.True(main.UseArtifactCache);
        Assert.Null(main.StoreMemoryLimit);

        var hot = SpindleEngine.DefaultHotLaneOptions();
        Assert.True(hot.Pooling);
        Assert.Equal(4096u, hot.TotalCoreInstances);
        Assert.Equal(4096u, hot.MaxUnusedWarmSlots);
        Assert.Equal(128UL << 10, hot.LinearMemoryKeepResident);
        Assert.Equal(64UL << 10, hot.TableKeepResident);
        Assert.Equal(8UL << 20, hot.AsyncStackSize);
        Assert.False(hot.WarmUpMemories);

        var resident = SpindleEngine.DefaultResidentLaneOptions();
        Assert.Equal(256u, resident.TotalCoreInstances);
        Assert.Equal(256u, resident.MaxUnusedWarmSlots);
        Assert.Equal(32UL << 20, resident.LinearMemoryKeepResident);
        Assert.Equal(32UL << 20, resident.TableKeepResident);
        Assert.False(resident.WarmUpMemories);

        var off = new SpindleEngineOptions { Pooling = false };
        Assert.False(SpindleEngine.MainEngineOptions(off).Pooling);
        Assert.Null(SpindleEngine.HotLaneOptions(off));
        Assert.Null(SpindleEngine.ResidentLaneOptions(off));
        Assert.Null(SpindleEngine.ResidentLaneOptions(new SpindleEngineOptions { HotInstances = 0 }));
    }

    [Fact]
    public void Every_invalid_setting_is_named_with_its_value()
    {
        var options = new SpindleOptions
        {
            Engine = new SpindleEngineOptions { PoolInstances = 0, HotInstances = 2_000_000, FiberStackSize = 4096, MaxInstanceMemory = 0, CacheDirectory = " " },
            Server = new SpindleServerOptions { MaxRequestBodySize = -1, Http1MaxBufferSize = 100, RequestTimeout = TimeSpan.Zero, MaxChainDepth = 0 },
        };
        var errors = options.Validate().Select(e => e.ToString()).ToArray();
        Assert.Contains("Spindle:Engine:PoolInstances = 0: must be 1..1000000", errors);
        Assert.Contains("Spindle:Engine:HotInstances = 2000000: must be 0..1000000 (0: no hot lane)", errors);
        Assert.Contains("Spindle:Engine:FiberStackSize = 4096: must be more than the 524288-byte wasm stack and at most 1 GiB", errors);
        Assert.Contains("Spindle:Engine:MaxInstanceMemory = 0: must be a number of bytes (1 or more), or unset for no limit", errors);
        Assert.Contains("Spindle:Engine:CacheDirectory =  : must not be empty (leave it unset for the default)", errors);
        Assert.Contains("Spindle:Server:MaxRequestBodySize = -1: must be a number of bytes (0 or more), or unset for no limit", errors);
        Assert.Contains("Spindle:Server:Http1MaxBufferSize = 100: must be at least 8192 bytes, or unset for Kestrel's defaults", errors);
        Assert.Contains("Spindle:Server:RequestTimeout = 00:00:00: must be positive, or unset for none", errors);
        Assert.Contains("Spindle:Server:MaxChainDepth = 0: must be 1 or more", errors);
        Assert.Equal(9, errors.Length);
        Assert.Empty(new SpindleOptions().Validate());

        var thrown = Assert.Throws<ArgumentException>(() => SpindleEngine.Create(new SpindleEngineOptions { ResidentInstances = 5_000_000 }));
        Assert.StartsWith("Spindle:Engine:ResidentInstances = 5000000: must be 0..1000000", thrown.Message);
    }
}
