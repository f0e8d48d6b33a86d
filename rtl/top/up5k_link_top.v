// iCE40 UP5K top for a board on a serial port: one 256-neuron, 256-input lif_core (weights in
// SPRAM) behind nt_link, the wire protocol on a UART (docs/protocol.md). Clocked by the 12 MHz
// oscillator of common UP5K boards (iCEBreaker, UPduino); 3 Mbaud by default.
`default_nettype none

module up5k_link_top #(
    parameter CLKS_PER_BIT = 4,        // 12 MHz / 3 Mbaud
    parameter RTO_CYCLES = 1500000     // 125 ms without ACK: send the frame again
) (
    input  wire clk,
    input  wire uart_rx,
    output wire uart_tx,
    output wire led_busy,              // a frame is being handled
    output wire led_flag               // a core flag is set (overflow, wrap, bad address)
);
    // Power-on reset: the flip-flops start at their initial values after configuration.
    reg [3:0] por;
    initial por = 4'd0;
    wire rst = !por[3];
    always @(posedge clk) if (!por[3]) por <= por + 4'd1;

    wire        in_valid, in_ready, out_valid, out_ready;
    wire [15:0] in_data, out_data;
    wire        cfg_valid, cfg_ready, cfg_we, cfg_rvalid;
    wire [16:0] cfg_addr;
    wire [31:0] cfg_wdata, cfg_rdata;
    wire [5:0]  flags;
    // The state trace and step count serve simulation; synthesis removes what feeds them.
    /* verilator lint_off UNUSEDSIGNAL */
    wire [100:0] trace;
    /* verilator lint_on UNUSEDSIGNAL */

    nt_link #(.CLKS_PER_BIT(CLKS_PER_BIT), .RTO_CYCLES(RTO_CYCLES)) link (
        .clk(clk), .rst(rst), .uart_rx(uart_rx), .uart_tx(uart_tx),
        .in_valid(in_valid), .in_ready(in_ready), .in_data(in_data),
        .out_valid(out_valid), .out_ready(out_ready), .out_data(out_data),
        .cfg_valid(cfg_valid), .cfg_ready(cfg_ready), .cfg_we(cfg_we), .cfg_addr(cfg_addr),
        .cfg_wdata(cfg_wdata), .cfg_rvalid(cfg_rvalid), .cfg_rdata(cfg_rdata),
        .busy(led_busy)
    );

    lif_core #(
        .N_NEURONS(256), .N_INPUTS(256), .N_LAYERS(4), .LANES(4),
        .IN_DEPTH(512), .OUT_DEPTH(512), .ACT_PORT(0)
    ) core (
        .clk(clk), .rst(rst),
        .in_valid(in_valid), .in_ready(in_ready), .in_data(in_data),
        .out_valid(out_valid), .out_ready(out_ready), .out_data(out_data),
        .cfg_valid(cfg_valid), .cfg_ready(cfg_ready), .cfg_we(cfg_we),
        .cfg_addr(cfg_addr), .cfg_wdata(cfg_wdata), .cfg_rvalid(cfg_rvalid),
        .cfg_rdata(cfg_rdata),
        .act_valid(1'b0), .act_addr(8'd0), .act_data(32'd0),
        .trace_valid(trace[0]), .trace_layer(trace[3:1]), .trace_neuron(trace[11:4]),
        .trace_spike(trace[12]), .trace_u(trace[44:13]), .trace_v(trace[68:45]),
        .step(trace[100:69]), .flags(flags)
    );

    assign led_flag = |flags;
endmodule

`default_nettype wire
