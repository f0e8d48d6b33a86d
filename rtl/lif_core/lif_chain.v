// A chain of lif_core instances for networks larger than one core: core c's AER output (the
// spikes of its last layer, then its tick) is core c + 1's AER input, so a layer on the next
// core sees them one step later, as Dense would. The host writes AER events into core 0 and
// reads the last core's output; a core configured with no layers passes events through.
//
// Configuration and activation addresses carry the core number above the core's own address:
// cfg_addr = {core, 17-bit core address}, act_addr = {core, neuron}.
`default_nettype none

module lif_chain #(
    parameter N_CORES = 2,             // 1..8
    parameter N_NEURONS = 256,
    parameter N_INPUTS = 256,
    parameter N_LAYERS = 4,
    parameter LANES = 4,
    parameter IN_DEPTH = 512,
    parameter OUT_DEPTH = 512,
    parameter ACT_PORT = 1
) (
    input  wire                 clk,
    input  wire                 rst,
    input  wire                 in_valid,
    output wire                 in_ready,
    input  wire [15:0]          in_data,
    output wire                 out_valid,
    input  wire                 out_ready,
    output wire [15:0]          out_data,
    input  wire                 cfg_valid,
    output wire                 cfg_ready,
    input  wire                 cfg_we,
    input  wire [19:0]          cfg_addr,
    input  wire [31:0]          cfg_wdata,
    output wire                 cfg_rvalid,
    output wire [31:0]          cfg_rdata,
    input  wire                 act_valid,
    input  wire [10:0]          act_addr,
    input  wire [31:0]          act_data,
    // per-core trace and status, core c in the c-th slice
    output wire [N_CORES-1:0]    trace_valid,
    output wire [3*N_CORES-1:0]  trace_layer,
    output wire [8*N_CORES-1:0]  trace_neuron,
    output wire [N_CORES-1:0]    trace_spike,
    output wire [32*N_CORES-1:0] trace_u,
    output wire [24*N_CORES-1:0] trace_v,
    output wire [32*N_CORES-1:0] step,
    output wire [6*N_CORES-1:0]  flags
);
    // Links between cores: link c feeds core c, link N_CORES is the chain's output.
    wire [N_CORES:0] link_valid, link_ready;
    wire [16*N_CORES+15:0] link_data;
    assign link_valid[0] = in_valid;
    assign in_ready = link_ready[0];
    assign link_data[15:0] = in_data;
    assign out_valid = link_valid[N_CORES];
    assign link_ready[N_CORES] = out_ready;
    assign out_data = link_data[16*N_CORES +: 16];

    wire [2:0] cfg_core = cfg_addr[19:17];
    wire [N_CORES-1:0] core_ready, core_rvalid, core_sel;
    wire [32*N_CORES-1:0] core_rdata;

    genvar c;
    generate
        for (c = 0; c < N_CORES; c = c + 1) begin : core
            assign core_sel[c] = cfg_core == c;
            lif_core #(
                .N_NEURONS(N_NEURONS), .N_INPUTS(c == 0 ? N_INPUTS : N_NEURONS),
                .N_LAYERS(N_LAYERS), .LANES(LANES), .IN_DEPTH(IN_DEPTH),
                .OUT_DEPTH(OUT_DEPTH), .ACT_PORT(ACT_PORT)
            ) u_core (
                .clk(clk), .rst(rst),
                .in_valid(link_valid[c]), .in_ready(link_ready[c]),
                .in_data(link_data[16*c +: 16]),
                .out_valid(link_valid[c+1]), .out_ready(link_ready[c+1]),
                .out_data(link_data[16*(c+1) +: 16]),
                .cfg_valid(cfg_valid && core_sel[c]), .cfg_ready(core_ready[c]),
                .cfg_we(cfg_we), .cfg_addr(cfg_addr[16:0]), .cfg_wdata(cfg_wdata),
                .cfg_rvalid(core_rvalid[c]), .cfg_rdata(core_rdata[32*c +: 32]),
                .act_valid(act_valid && act_addr[10:8] == c), .act_addr(act_addr[7:0]),
                .act_data(act_data),
                .trace_valid(trace_valid[c]), .trace_layer(trace_layer[3*c +: 3]),
                .trace_neuron(trace_neuron[8*c +: 8]), .trace_spike(trace_spike[c]),
                .trace_u(trace_u[32*c +: 32]), .trace_v(trace_v[24*c +: 24]),
                .step(step[32*c +: 32]), .flags(flags[6*c +: 6])
            );
        end
    endgenerate

    // A core number beyond the chain is refused (never ready) rather than aliased.
    assign cfg_ready = |(core_ready & core_sel);

    // Reads return in order with the same latency from every core, so at most one core has
    // cfg_rvalid in a cycle and an AND-OR of the words picks it.
    reg [31:0] rdata_or;
    integer k;
    always @* begin
        rdata_or = 32'd0;
        for (k = 0; k < N_CORES; k = k + 1)
            if (core_rvalid[k]) rdata_or = rdata_or | core_rdata[32*k +: 32];
    end
    assign cfg_rvalid = |core_rvalid;
    assign cfg_rdata = rdata_or;
endmodule

`default_nettype wire
