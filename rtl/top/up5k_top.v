// iCE40 UP5K top: one 256-neuron, 256-input lif_core (weights in SPRAM) behind a byte-wide
// host bus, the port that the UART framer plugs into. 23 pins.
//
// Host bus: host_a selects a register; host_q always shows it; host_wr writes host_d to it.
//   0..3  DATA, bytes 0 (LSB) to 3: the 32-bit word of a command
//   4..6  ADDR, bytes 0 to 2: the configuration address of a command
//   7     write: command bits  0 config write (ADDR <- DATA)   1 config read (DATA <- ADDR)
//                              2 AER push (DATA[15:0] in)      3 AER pop (DATA[15:0] <- out)
//         read: status bits    0 busy (a command is running)   1 an output event is waiting
//                              2 the input FIFO has room       3 a core flag is set
// A command runs until the core accepts it; the host polls busy before the next one.
`default_nettype none

module up5k_top (
    input  wire       clk,
    input  wire       rst_n,
    input  wire [2:0] host_a,
    input  wire [7:0] host_d,
    input  wire       host_wr,
    output reg  [7:0] host_q,
    output wire       out_event        // an output event is waiting (interrupt)
);
    // Power-on reset: the flip-flops start at the initial value after configuration.
    reg [3:0] por;
    initial por = 4'd0;
    wire rst = !por[3] || !rst_n;
    always @(posedge clk) if (!por[3]) por <= por + 4'd1;

    reg [31:0] data;
    reg [16:0] addr;
    reg [3:0]  cmd;                    // the command running, one-hot as written

    wire       in_ready, out_valid, cfg_ready, cfg_rvalid;
    wire [15:0] out_data;
    wire [31:0] cfg_rdata;
    wire [5:0]  flags;
    reg        reading;                // a config read was accepted; its word is on the way
    // The state trace and step count serve simulation; here they go nowhere (and synthesis
    // removes the logic that only feeds them).
    /* verilator lint_off UNUSEDSIGNAL */
    wire [100:0] trace;
    /* verilator lint_on UNUSEDSIGNAL */

    wire do_write = cmd[0] && cfg_ready;
    wire do_read = cmd[1] && !reading && cfg_ready;
    wire do_push = cmd[2] && in_ready;
    wire do_pop = cmd[3] && out_valid;

    lif_core #(
        .N_NEURONS(256), .N_INPUTS(256), .N_LAYERS(4), .LANES(4),
        .IN_DEPTH(512), .OUT_DEPTH(512), .ACT_PORT(0)
    ) core (
        .clk(clk), .rst(rst),
        .in_valid(cmd[2]), .in_ready(in_ready), .in_data(data[15:0]),
        .out_valid(out_valid), .out_ready(cmd[3]), .out_data(out_data),
        .cfg_valid(cmd[0] || (cmd[1] && !reading)), .cfg_ready(cfg_ready), .cfg_we(cmd[0]),
        .cfg_addr(addr), .cfg_wdata(data), .cfg_rvalid(cfg_rvalid), .cfg_rdata(cfg_rdata),
        .act_valid(1'b0), .act_addr(8'd0), .act_data(32'd0),
        .trace_valid(trace[0]), .trace_layer(trace[3:1]), .trace_neuron(trace[11:4]),
        .trace_spike(trace[12]), .trace_u(trace[44:13]), .trace_v(trace[68:45]),
        .step(trace[100:69]), .flags(flags)
    );

    assign out_event = out_valid;

    always @(posedge clk) begin
        if (rst) begin
            cmd <= 4'd0;
            reading <= 1'b0;
        end else begin
            if (host_wr) begin
                case (host_a)
                    3'd0: data[7:0] <= host_d;
                    3'd1: data[15:8] <= host_d;
                    3'd2: data[23:16] <= host_d;
                    3'd3: data[31:24] <= host_d;
                    3'd4: addr[7:0] <= host_d;
                    3'd5: addr[15:8] <= host_d;
                    3'd6: addr[16] <= host_d[0];
                    default: cmd <= host_d[3:0];
                endcase
            end
            if (do_write || do_push) cmd <= 4'd0;
            if (do_read) reading <= 1'b1;
            if (cmd[1] && cfg_rvalid) begin
                data <= cfg_rdata;
                reading <= 1'b0;
                cmd <= 4'd0;
            end
            if (do_pop) begin
                data <= {16'd0, out_data};
                cmd <= 4'd0;
            end
        end
    end

    always @(posedge clk) begin
        case (host_a)
            3'd0: host_q <= data[7:0];
            3'd1: host_q <= data[15:8];
            3'd2: host_q <= data[23:16];
            3'd3: host_q <= data[31:24];
            3'd4: host_q <= addr[7:0];
            3'd5: host_q <= addr[15:8];
            3'd6: host_q <= {7'd0, addr[16]};
            default: host_q <= {4'd0, |flags, in_ready, out_valid, cmd != 4'd0};
        endcase
    end
endmodule

`default_nettype wire
