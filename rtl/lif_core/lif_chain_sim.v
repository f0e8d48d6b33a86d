// Simulation top for the cocotb benches: lif_chain plus a recorder that writes every neuron
// update of every core to a text file (plusarg +trace=<path>), one line per update:
//
//   32 hex digits = {step[31:0], core[7:0], layer[7:0], neuron[7:0], spike[7:0], u[31:0],
//                    v sign-extended [31:0]}
//
// Sampling the trace port from Python would cost a simulator round trip per neuron update;
// the file is flushed at every output tick, so the bench reads a finished step's lines then.
// Not synthesisable (file I/O); the chain it wraps is.
`default_nettype none

module lif_chain_sim #(
    parameter N_CORES = 2,
    parameter N_NEURONS = 256,
    parameter N_INPUTS = 256,
    parameter N_LAYERS = 4,
    parameter LANES = 16,
    parameter IN_DEPTH = 512,
    parameter OUT_DEPTH = 512,
    parameter ACT_PORT = 1
) (
    input  wire        clk,
    input  wire        rst,
    input  wire        in_valid,
    output wire        in_ready,
    input  wire [15:0] in_data,
    output wire        out_valid,
    input  wire        out_ready,
    output wire [15:0] out_data,
    input  wire        cfg_valid,
    output wire        cfg_ready,
    input  wire        cfg_we,
    input  wire [19:0] cfg_addr,
    input  wire [31:0] cfg_wdata,
    output wire        cfg_rvalid,
    output wire [31:0] cfg_rdata,
    input  wire        act_valid,
    input  wire [10:0] act_addr,
    input  wire [31:0] act_data,
    output wire [6*N_CORES-1:0] flags
);
    wire [N_CORES-1:0]    trace_valid, trace_spike;
    wire [3*N_CORES-1:0]  trace_layer;
    wire [8*N_CORES-1:0]  trace_neuron;
    wire [32*N_CORES-1:0] trace_u, step;
    wire [24*N_CORES-1:0] trace_v;

    lif_chain #(
        .N_CORES(N_CORES), .N_NEURONS(N_NEURONS), .N_INPUTS(N_INPUTS), .N_LAYERS(N_LAYERS),
        .LANES(LANES), .IN_DEPTH(IN_DEPTH), .OUT_DEPTH(OUT_DEPTH), .ACT_PORT(ACT_PORT)
    ) chain (
        .clk(clk), .rst(rst),
        .in_valid(in_valid), .in_ready(in_ready), .in_data(in_data),
        .out_valid(out_valid), .out_ready(out_ready), .out_data(out_data),
        .cfg_valid(cfg_valid), .cfg_ready(cfg_ready), .cfg_we(cfg_we), .cfg_addr(cfg_addr),
        .cfg_wdata(cfg_wdata), .cfg_rvalid(cfg_rvalid), .cfg_rdata(cfg_rdata),
        .act_valid(act_valid), .act_addr(act_addr), .act_data(act_data),
        .trace_valid(trace_valid), .trace_layer(trace_layer), .trace_neuron(trace_neuron),
        .trace_spike(trace_spike), .trace_u(trace_u), .trace_v(trace_v), .step(step),
        .flags(flags)
    );

    integer fd;
    reg [8*1024-1:0] path;
    initial begin
        fd = 0;
        if ($value$plusargs("trace=%s", path)) fd = $fopen(path, "w");
    end

    genvar c;
    generate
        for (c = 0; c < N_CORES; c = c + 1) begin : recorder
            wire [7:0] core = c;
            always @(posedge clk) begin
                if (fd != 0 && trace_valid[c])
                    $fwrite(fd, "%h\n", {step[32*c +: 32], core, 5'd0, trace_layer[3*c +: 3],
                                         trace_neuron[8*c +: 8], 7'd0, trace_spike[c],
                                         trace_u[32*c +: 32], {8{trace_v[24*c+23]}},
                                         trace_v[24*c +: 24]});
            end
        end
    endgenerate

    always @(posedge clk) begin
        if (fd != 0 && out_valid && out_ready && out_data[15]) $fflush(fd);
    end
endmodule

`default_nettype wire
