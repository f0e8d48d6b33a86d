// Time-multiplexed CUBA-LIF core: up to N_LAYERS Dense + LIF layers sharing one neuron
// datapath, driven by AER events and time-step ticks. docs/rtl.md describes the ports, the
// configuration memory map and the cycle counts; docs/fixed-point.md the arithmetic.
//
// One time step (started by an input tick) runs the layers from the last to the first. Layer l
// integrates the events of step t - 1 that feed it (the input events for layer 0, the spikes of
// layer l - 1 otherwise): that is Dense's one-step delay, and running the layers backwards lets
// layer l - 1 overwrite its spike list only after layer l has read it.
//
// A layer is processed in groups of LANES neurons. For a group, every source event reads one
// weight word (LANES weights) and adds it to LANES accumulators; the group's sums then go to the
// neuron datapath, one neuron per cycle, while the next group accumulates. A group takes
// max(events, LANES) cycles (the first max(events, 1)), so the two never wait for each other.
//
// Neuron and input indices are 8 bits and counts 9 bits whatever the size (at most 256 of
// each); memories are sized by the parameters and take the low address bits.
`default_nettype none

module lif_core #(
    parameter N_NEURONS = 256,         // neurons (state words), 2..256
    parameter N_INPUTS = 256,          // AER input addresses, 2..256
    parameter N_LAYERS = 4,            // layers one core can hold, 2..8
    parameter LANES = 4,               // weights per weight word: a power of two, >= 4
    parameter IN_DEPTH = 512,          // input FIFO words
    parameter OUT_DEPTH = 512,         // output FIFO words, more than N_NEURONS
    parameter ACT_PORT = 1             // 1: activation memory for crossbar co-simulation
) (
    input  wire        clk,
    input  wire        rst,
    // AER input: [15] tick (end of a time step), [7:0] input address
    input  wire        in_valid,
    output wire        in_ready,
    input  wire [15:0] in_data,
    // AER output: [15] tick, [7:0] index of the spiking neuron in the last layer
    output wire        out_valid,
    input  wire        out_ready,
    output wire [15:0] out_data,
    // configuration port (docs/rtl.md): word addresses, 32-bit data, reads return in order
    input  wire        cfg_valid,
    output wire        cfg_ready,
    input  wire        cfg_we,
    input  wire [16:0] cfg_addr,
    input  wire [31:0] cfg_wdata,
    output reg         cfg_rvalid,
    output reg  [31:0] cfg_rdata,
    // activation port: the Dense output a (added to u as a << 6) of a neuron in an act-mode
    // layer, e.g. a crossbar's ADC word
    input  wire        act_valid,
    input  wire [7:0]  act_addr,
    input  wire [31:0] act_data,
    // state trace: one word per neuron update, in the cycle the state is written back
    output wire        trace_valid,
    output wire [2:0]  trace_layer,
    output wire [7:0]  trace_neuron,
    output wire        trace_spike,
    output wire [31:0] trace_u,
    output wire [23:0] trace_v,
    output wire [31:0] step,
    output wire [5:0]  flags
);
    localparam FANIN_MAX = (N_INPUTS > N_NEURONS) ? N_INPUTS : N_NEURONS;
    localparam ACC_W = 8 + $clog2(FANIN_MAX);
    localparam WDEPTH = N_NEURONS * FANIN_MAX / LANES;
    localparam WAW = $clog2(WDEPTH);
    localparam NW = $clog2(N_NEURONS);
    localparam IW = $clog2(N_INPUTS);
    localparam LIW = $clog2(N_LAYERS);
    localparam LW = $clog2(LANES);
    localparam CHUNKS = LANES / 4;
    localparam CLW = $clog2(CHUNKS);
    localparam OFW = $clog2(OUT_DEPTH) + 1;

    // Fixed-width copies of the parameters for comparisons and arithmetic.
    localparam [8:0] NEURONS9 = N_NEURONS[8:0];
    localparam [8:0] INPUTS9 = N_INPUTS[8:0];
    localparam [8:0] LANES9 = LANES[8:0];
    localparam [3:0] CHUNK_MASK = CHUNKS[3:0] - 4'd1;
    localparam [15:0] WDEPTH16 = WDEPTH[15:0];
    localparam [4:0] LAYERS5 = N_LAYERS[4:0];
    localparam [CHUNKS-1:0] CHUNK_ONE = 1;

    // Sticky flags (STATUS[5:0]).
    localparam F_ADDR = 0;             // an input address beyond layer 0's fan-in (dropped)
    localparam F_LIST = 1;             // more input events in one step than N_INPUTS (dropped)
    localparam F_CFG = 2;              // configuration access to an unmapped address
    localparam F_UWRAP = 3;            // the 24-bit current wrap acted
    localparam F_VSAT = 4;             // the voltage saturated
    localparam F_I32 = 5;              // a 32-bit state sum wrapped

    localparam [2:0] S_IDLE = 3'd0, S_CLEAR = 3'd1, S_SETUP = 3'd2, S_RUN = 3'd3,
                     S_DRAIN = 3'd4, S_END = 3'd5;

    // ------------------------------------------------------------------ configuration state
    // The layer registers are in the layer table (below). Two values are also kept here, as
    // they are read at any time: the last layer's neuron count (its spikes must fit the output
    // FIFO: see the step control) and layer 0's fan-in (input addresses beyond it are dropped).
    reg [8:0]  last_count;
    reg [1:0]  count_age;              // not 0: last_count (or `room`) is being refreshed
    reg [8:0]  fanin0;
    reg [3:0]  n_used;                     // layers in use; 0 passes events straight through
    reg [8:0]  scount  [0:N_LAYERS-1];     // spikes of each layer in the last step
    reg [5:0]  flag_r;
    wire [31:0] step_r;
    wire [31:0] busy_cycles;           // cycles spent running steps since the last CLEAR
    reg [2:0]  state;

    assign flags = flag_r;
    assign step = step_r;

    wire idle = state == S_IDLE;
    wire can_start;                    // a step may start (see the step control)
    reg        req_valid, req_we;      // the accepted configuration request, acted on now
    reg [16:0] req_addr;
    reg [31:0] req_wdata;
    wire bypass = n_used == 4'd0;
    wire step_done = state == S_END;
    wire [2:0] last_l = n_used[2:0] - 3'd1;
    wire [2:0] prev_l;                 // the layer before the current one

    // ------------------------------------------------------------------ FIFOs
    localparam IFW = $clog2(IN_DEPTH) + 1;
    wire       fi_valid;
    wire [9:0] fi_data;                // {tick, address out of range, address}
    wire       fi_ready;
    wire [IFW-1:0] fi_free;
    nt_fifo #(.WIDTH(10), .DEPTH(IN_DEPTH)) in_fifo (
        .clk(clk), .rst(rst),
        .wr_valid(in_valid), .wr_ready(in_ready),
        .wr_data({in_data[15], |in_data[14:8], in_data[7:0]}),
        .rd_valid(fi_valid), .rd_ready(fi_ready), .rd_data(fi_data),
        .free(fi_free)
    );

    wire       fo_valid;
    wire [8:0] fo_data;                // {tick, neuron}
    wire       fo_ready;
    wire [OFW-1:0] fo_free;
    wire [8:0] out_word;
    nt_fifo #(.WIDTH(9), .DEPTH(OUT_DEPTH)) out_fifo (
        .clk(clk), .rst(rst),
        .wr_valid(fo_valid), .wr_ready(fo_ready), .wr_data(fo_data),
        .rd_valid(out_valid), .rd_ready(out_ready), .rd_data(out_word),
        .free(fo_free)
    );
    assign out_data = {out_word[8], 7'd0, out_word[7:0]};

    // ------------------------------------------------------------------ input drain
    // Input events go to one of three lists: step s fills list s mod 3 while step t = s - 1
    // or s reads list t - 1. `ahead` counts ticks drained but not yet processed; the drain
    // stops at two, so the list it fills is never the one being read.
    reg [1:0] fbuf, rbuf;              // list being filled; list read by the next step
    reg [8:0] fill_cnt;
    reg [8:0] in_cnt0, in_cnt1, in_cnt2;  // events in each list (three registers, not an
                                          // array, which synthesis would give four words)
    reg [1:0] ahead;

    wire drain_en = !bypass && ahead != 2'd2 && state != S_CLEAR;
    wire pop = fi_valid && fi_ready;
    wire pop_tick = pop && fi_data[9];
    wire addr_bad = fi_data[8] || {1'b0, fi_data[7:0]} >= fanin0;
    wire list_full = fill_cnt == INPUTS9;
    wire list_we = pop && !fi_data[9] && !addr_bad && !list_full;
    wire ticked = pop_tick && !bypass;
    assign fi_ready = bypass ? fo_ready : drain_en;

    function [1:0] next3(input [1:0] b);
        next3 = (b == 2'd2) ? 2'd0 : b + 2'd1;
    endfunction

    // ------------------------------------------------------------------ step control state
    reg [2:0]  cur_l;
    // The current layer's registers: the layer table's output.
    wire [7:0]  cur_base;              // first neuron (a multiple of LANES)
    wire [8:0]  cur_fanin;             // inputs: weight words per group
    wire [3:0]  cur_wexp;
    wire [11:0] cur_du, cur_dv;
    wire [16:0] cur_vth;
    wire        cur_act;               // drive from the activation port
    reg         cur_last, cur_from_in;
    reg [8:0]  cur_spikes;             // spikes of the current layer in this step
    reg [8:0]  src_n;                  // events feeding the layer
    reg [7:0]  src_base;               // first spike-list entry of the feeding layer
    reg [8:0]  tok;                    // token within the group, counting down to 0
    reg [15:0] g_wbase;                // first weight word of the group in A1
    reg [8:0]  g_rem;                  // neurons left, this group included
    reg [8:0]  tok_last_rest;          // the first token of groups after the first
    reg [8:0]  clr_idx;

    // Accumulate pipeline (A1: list word, A2: weight word), update sequencer, N1 stage.
    // Neurons are read and written back in order (groups in order, lanes in order), so
    // counters from the layer's base give the neuron being read (rd_n) and written (wb_n).
    reg        a1_valid, a1_last, a1_wv, a1_final;
    reg        a2_valid, a2_last, a2_wv, a2_final;
    reg [8*LANES-1:0] acc_lo, acc_hi;  // group sums being accumulated: lane j in byte j
    reg [8*LANES-1:0] ub_lo, ub_hi;    // finished group sums, shifted down a lane per update
    reg        up_active, up_final;
    reg [LW-1:0] up_j;                 // the lane being updated
    reg [7:0]  rd_n, wb_n, uw_n;       // uw_n: u is written back two cycles before v
    reg        n1_valid;
    reg [ACC_W-1:0] n1_acc;

    // ------------------------------------------------------------------ memories
    // The lists hold 8-bit indices whatever the core size (an EBR is 512 x 8 anyway).
    wire [7:0] in_list_q;
    nt_ram #(.WIDTH(8), .DEPTH(4 * N_INPUTS), .RW_FREE(1)) in_list (
        .clk(clk), .we(list_we), .waddr({fbuf, fill_cnt[IW-1:0]}), .wdata(fi_data[7:0]),
        .re(state == S_RUN && cur_from_in), .raddr({rbuf, tok[IW-1:0]}), .rdata(in_list_q)
    );

    wire [7:0] spk_list_q;
    // Indices are 8 bits; a core of fewer than 256 neurons uses the low bits.
    /* verilator lint_off UNUSEDSIGNAL */
    wire [7:0] spk_list_raddr = src_base + tok[7:0];
    wire [7:0] spk_list_waddr = cur_base + cur_spikes[7:0];
    /* verilator lint_on UNUSEDSIGNAL */
    wire       dp_valid, dp_spike, dp_uwrap, dp_vsat, dp_i32, dp_busy, dp_mid_valid;
    wire [31:0] dp_mid_u;
    wire [31:0] dp_u;
    wire [23:0] dp_v;
    wire [7:0] dp_local = wb_n - cur_base;
    nt_ram #(.WIDTH(8), .DEPTH(N_NEURONS), .RW_FREE(1)) spk_list (
        .clk(clk), .we(dp_valid && dp_spike), .waddr(spk_list_waddr[NW-1:0]),
        .wdata(dp_local), .re(state == S_RUN && !cur_from_in), .raddr(spk_list_raddr[NW-1:0]),
        .rdata(spk_list_q)
    );

    /* verilator lint_off UNUSEDSIGNAL */
    wire [7:0]  st_raddr, st_waddr, u_waddr;  // 8-bit indices, as above
    /* verilator lint_on UNUSEDSIGNAL */
    wire        u_we, v_we;
    wire [31:0] u_wdata;
    wire [23:0] v_wdata;
    wire [31:0] u_q;
    wire [23:0] v_q;
    wire st_re = up_active || (idle && req_valid);
    nt_ram #(.WIDTH(32), .DEPTH(N_NEURONS), .RW_FREE(1)) u_mem (
        .clk(clk), .we(u_we), .waddr(u_waddr[NW-1:0]), .wdata(u_wdata), .re(st_re),
        .raddr(st_raddr[NW-1:0]), .rdata(u_q)
    );
    nt_ram #(.WIDTH(24), .DEPTH(N_NEURONS), .RW_FREE(1)) v_mem (
        .clk(clk), .we(v_we), .waddr(st_waddr[NW-1:0]), .wdata(v_wdata), .re(st_re),
        .raddr(st_raddr[NW-1:0]), .rdata(v_q)
    );

    wire        bias_we;
    wire [15:0] bias_q;                // {bias_exp, bias_mant}
    nt_ram #(.WIDTH(16), .DEPTH(N_NEURONS), .RW_FREE(1)) bias_mem (
        .clk(clk), .we(bias_we), .waddr(req_addr[NW-1:0]),
        .wdata({req_wdata[18:16], req_wdata[12:0]}), .re(st_re), .raddr(st_raddr[NW-1:0]),
        .rdata(bias_q)
    );

    wire [31:0] act_q;
    generate
        if (ACT_PORT != 0) begin : act
            nt_ram #(.WIDTH(32), .DEPTH(N_NEURONS)) act_mem (
                .clk(clk), .we(act_valid), .waddr(act_addr[NW-1:0]), .wdata(act_data),
                .re(up_active), .raddr(st_raddr[NW-1:0]), .rdata(act_q)
            );
        end else begin : no_act
            assign act_q = 32'd0;
            // The port stays in the interface; without the memory it has no reader.
            /* verilator lint_off UNUSEDSIGNAL */
            wire unused_act = &{1'b0, act_valid, act_addr, act_data};
            /* verilator lint_on UNUSEDSIGNAL */
        end
    endgenerate

    // The weight address is computed in 16 bits; the memory takes the low WAW of them.
    /* verilator lint_off UNUSEDSIGNAL */
    wire [15:0]        w_addr;
    /* verilator lint_on UNUSEDSIGNAL */
    wire               w_we;
    wire [CHUNKS-1:0]  w_chunk_we;
    wire [8*LANES-1:0] w_q;
    nt_wmem #(.LANES(LANES), .DEPTH(WDEPTH)) wmem (
        .clk(clk), .addr(w_addr[WAW-1:0]), .re(a1_valid || (idle && req_valid)), .we(w_we),
        .chunk_we(w_chunk_we),
        .wdata(req_wdata), .rdata(w_q)
    );

    // ------------------------------------------------------------------ configuration port
    // A request is decoded from the port as it is accepted and acted on in the next cycle, from
    // registers, so neither the decode nor the write enables it drives sit on a long path.
    // Status registers answer at any time; everything else waits for the core to be idle with
    // no step about to start, and a step waits for the request to finish.
    assign cfg_ready = (idle && !can_start) || (cfg_addr[16:8] == 9'd0 && !cfg_we);
    wire cfg_go = cfg_valid && cfg_ready;
    wire d_reg = cfg_addr[16:8] == 9'd0;
    wire d_layer = cfg_addr[16:8] == 9'd1;
    // A comparison with a constant synthesises as a subtraction, so the ranges are bit tests
    // (a power of two bounds the top bits).
    wire d_neuron = cfg_addr[16:14] == 3'd0 && cfg_addr[13:12] != 2'd0;   // 1..3
    wire d_layer_ok = ((N_LAYERS == 1 << LIW) ? cfg_addr[7:4] >> LIW == 4'd0
                                             : {1'b0, cfg_addr[7:4]} < LAYERS5)
                      && (!cfg_addr[3] || cfg_addr[2:0] == 3'd0);          // field <= 8
    wire d_neuron_ok = cfg_addr[11:8] == 4'd0
                       && ((N_NEURONS == 1 << NW) ? cfg_addr[7:0] >> NW == 8'd0
                                                  : {1'b0, cfg_addr[7:0]} < NEURONS9);
    wire [15:0] d_word = cfg_addr[15:0] >> CLW;
    wire d_word_ok = (WDEPTH == 1 << WAW) ? d_word >> WAW == 16'd0 : d_word < WDEPTH16;
    wire d_mapped = (d_reg && cfg_addr[7:4] == 4'd0 && cfg_addr[3:2] != 2'b11)  // 0..11
                    || (d_layer && d_layer_ok)
                    || (d_neuron && d_neuron_ok) || (cfg_addr[16] && d_word_ok);

    reg region_reg, region_layer, region_bias, region_u, region_v, region_w, mapped;
    reg [15:0] w_word;
    always @(posedge clk) begin
        if (rst) req_valid <= 1'b0;
        else req_valid <= cfg_go;
        if (cfg_go) begin
            req_we <= cfg_we;
            req_addr <= cfg_addr;
            req_wdata <= cfg_wdata;
            region_reg <= d_reg;
            region_layer <= d_layer;
            region_bias <= cfg_addr[16:12] == 5'd1;
            region_u <= cfg_addr[16:12] == 5'd2;
            region_v <= cfg_addr[16:12] == 5'd3;
            region_w <= cfg_addr[16];
            mapped <= d_mapped;
            w_word <= d_word;
        end
    end
    wire [3:0] cfg_field = req_addr[3:0];
    wire [LIW-1:0] cl = req_addr[4 +: LIW];
    wire cfg_wr = req_valid && req_we && mapped;
    wire clear_req = cfg_wr && region_reg && req_addr[7:0] == 8'd0 && req_wdata[0];

    assign bias_we = cfg_wr && region_bias;
    assign w_we = cfg_wr && region_w;
    assign w_chunk_we = CHUNK_ONE << (req_addr[3:0] & CHUNK_MASK);

    // Register read, evaluated only in the decode cycle of a read (a function rather than
    // combinational logic, so the busy-cycle counter does not re-evaluate it every cycle).
    // Layer registers come from the layer table a cycle later (layer_word).
    function [31:0] register_word(input [16:0] a);
        begin
            register_word = 32'd0;
            if (a[16:8] == 9'd0) begin
                case (a[7:0])
                    8'd1: register_word = {22'd0, ahead, !idle, 1'b0, flag_r};
                    8'd2: register_word = step_r;
                    8'd3: register_word = {28'd0, n_used};
                    8'd4: register_word = N_NEURONS;
                    8'd5: register_word = N_INPUTS;
                    8'd6: register_word = N_LAYERS;
                    8'd7: register_word = LANES;
                    8'd8: register_word = WDEPTH;
                    8'd9: register_word = ACT_PORT;
                    8'd10: register_word = {{(16 - OFW){1'b0}}, fo_free,
                                            {(16 - IFW){1'b0}}, fi_free};
                    8'd11: register_word = busy_cycles;
                    default: register_word = 32'd0;
                endcase
            end
        end
    endfunction

    // Reads: memories are addressed in the cycle after the accept, the word is chosen one
    // cycle later and cfg_rvalid rises in the cycle after that (three cycles in all).
    localparam [2:0] R_REG = 3'd0, R_BIAS = 3'd1, R_U = 3'd2, R_V = 3'd3, R_W = 3'd4,
                     R_LAYER = 3'd5;
    reg        rd_pend;
    reg [2:0]  rd_sel;
    reg [31:0] rd_reg;
    reg [3:0]  rd_chunk, rd_field;
    reg [31:0] layer_word;             // a layer register, from the layer table
    always @(posedge clk) begin
        if (rst) begin
            rd_pend <= 1'b0;
            cfg_rvalid <= 1'b0;
        end else begin
            rd_pend <= req_valid && !req_we;
            cfg_rvalid <= rd_pend;
        end
        if (req_valid) begin
            rd_reg <= register_word(req_addr);
            rd_chunk <= req_addr[3:0] & CHUNK_MASK;
            rd_field <= cfg_field;
            rd_sel <= !mapped ? R_REG : region_layer ? R_LAYER : region_bias ? R_BIAS
                      : region_u ? R_U : region_v ? R_V : region_w ? R_W : R_REG;
        end
        if (rd_pend) begin
            case (rd_sel)
                R_BIAS: cfg_rdata <= {13'd0, bias_q[15:13], {3{bias_q[12]}}, bias_q[12:0]};
                R_U: cfg_rdata <= u_q;
                R_V: cfg_rdata <= {{8{v_q[23]}}, v_q};
                R_W: cfg_rdata <= w_q[32*rd_chunk +: 32];
                R_LAYER: cfg_rdata <= layer_word;
                default: cfg_rdata <= rd_reg;
            endcase
        end
    end

    // ------------------------------------------------------------------ step control
    // A step may start when a tick is pending and the output FIFO has room for the last
    // layer's spikes and the tick. `room` is registered (off the critical path), so it may be
    // a cycle old: the FIFO changes by at most one word a cycle, hence the spare word. The
    // last layer's count comes from the layer table, which shows the last layer while the
    // core is idle with no request: after a write to N_USED or to a count, count_age waits
    // for such a read, takes its count, then lets `room` follow before a step may start.
    wire [8:0] out_need = last_count + 9'd2;
    reg room;
    always @(posedge clk) room <= {{(16 - OFW){1'b0}}, fo_free} >= {7'd0, out_need};
    assign can_start = !bypass && ahead != 2'd0 && room && count_age == 2'd0;

    wire g_final = g_rem >> LW == 9'd0 || g_rem == LANES9;  // g_rem <= LANES
    // Tokens per group: max(events, 1) for the first group, max(events, LANES) after it. They
    // count down, so a group's last token (0) carries an event whenever the group has one:
    // tokens at or beyond src_n carry none.
    wire [8:0] in_cnt_r = (rbuf == 2'd0) ? in_cnt0 : (rbuf == 2'd1) ? in_cnt1 : in_cnt2;
    wire [8:0] setup_src = cur_act ? 9'd0
                           : (cur_l == 3'd0) ? in_cnt_r : scount[prev_l[LIW-1:0]];
    wire tok_end = tok == 9'd0;

    wire [7:0] a1_src = cur_from_in ? in_list_q : spk_list_q;
    // The LANES adders. Weights are stored in offset binary (w + 128, 0..255: see
    // neuro/rtl_compile.py), so a lane's sum is unsigned and at most 255 * 256 < 2**16; the
    // updater subtracts 128 per event. A lane keeps its sum as a low byte and a high byte that
    // counts the low byte's carries (at most 255: no carry leaves a lane's high byte). The
    // low bytes are added in one word with bit 7 of each byte left out, so that no carry
    // crosses into the next lane, and bit 7 and the lane's carry are recovered from it. In
    // hardware these are LANES independent adders; written as whole-vector operations in one
    // procedural block, an event-driven simulator spends a few word operations a cycle on
    // them whatever LANES is. The sums start from zero: a group's last token clears them.
    localparam [8*LANES-1:0] LOW7 = {LANES{8'h7f}};
    localparam [8*LANES-1:0] TOP = {LANES{8'h80}};
    reg [8*LANES-1:0] low_sum, carry, lane_lo, lane_hi;
    always @* begin
        low_sum = (acc_lo & LOW7) + (w_q & LOW7);
        lane_lo = low_sum ^ ((acc_lo ^ w_q) & TOP);
        carry = ((acc_lo & w_q) | ((acc_lo ^ w_q) & low_sum)) & TOP;
        lane_hi = acc_hi + (carry >> 7);
    end
    // Lane up_j of the handed-over sums (the low byte after up_j shifts), less the offset of
    // the group's src_n weights.
    wire [15:0] ub_lane = {ub_hi[7:0], ub_lo[7:0]};
    wire [15:0] offset = {src_n[7:0], 7'd0} + {src_n[8], 15'd0};
    // The sum fits ACC_W bits (16 at a fan-in of 256); the datapath takes that many.
    /* verilator lint_off UNUSEDSIGNAL */
    wire [15:0] lane_acc = ub_lane - offset;
    /* verilator lint_on UNUSEDSIGNAL */

    // The last group of a layer ends at lane (count - 1) mod LANES.
    wire [LW-1:0] last_j = lt_bq[LW-1:0] - {{(LW - 1){1'b0}}, 1'b1};
    wire up_end = up_j == {LW{1'b1}} || (up_final && up_j == last_j);
    // A layer has drained a clock after its last write-back (dp_tail): that spare clock keeps
    // a layer's fixed cost at the 13 clocks of the cycle model (docs/rtl.md) that the
    // datapath's former seventh stage gave.
    reg dp_tail;
    always @(posedge clk) dp_tail <= dp_valid;
    wire drained = !a1_valid && !a2_valid && !up_active && !n1_valid && !dp_busy && !dp_tail;

    // The configuration port owns the memory ports while the core is idle.
    wire clearing = state == S_CLEAR;
    assign w_addr = idle ? w_word : g_wbase + {8'd0, a1_src};
    assign st_raddr = idle ? req_addr[7:0] : rd_n;
    assign st_waddr = clearing ? clr_idx[7:0] : dp_valid ? wb_n : req_addr[7:0];
    assign u_waddr = clearing ? clr_idx[7:0] : dp_mid_valid ? uw_n : req_addr[7:0];
    assign u_we = clearing || dp_mid_valid || (cfg_wr && region_u);
    assign v_we = clearing || dp_valid || (cfg_wr && region_v);
    assign u_wdata = clearing ? 32'd0 : dp_mid_valid ? dp_mid_u : req_wdata;
    assign v_wdata = clearing ? 24'd0 : dp_valid ? dp_v : req_wdata[23:0];
    // In pass-through the input FIFO feeds the output FIFO; otherwise spikes of the last
    // layer and the step's tick go out (their space was checked when the step started).
    assign fo_valid = bypass ? fi_valid : step_done || (dp_valid && dp_spike && cur_last);
    assign fo_data = bypass ? {fi_data[9], fi_data[7:0]}
                            : (step_done ? 9'h100 : {1'b0, dp_local});

    // Sequential logic, one block per concern; each block is gated by what can change it, so
    // an idle core costs an event-driven simulator almost nothing per clock.
    wire clear_done = clearing && clr_idx == NEURONS9 - 9'd1;
    wire in_event = pop && !bypass && !fi_data[9];

    // The layer count, layer 0's fan-in and the last layer's count: written by the
    // configuration port (the count through the layer table, see the step control).
    integer k;
    always @(posedge clk) begin
        if (rst) begin
            n_used <= 4'd0;
            fanin0 <= 9'd0;
        end else if (cfg_wr && (region_reg || region_layer)) begin
            if (region_reg && req_addr[7:0] == 8'd3) n_used <= req_wdata[3:0];
            if (region_layer && cfg_field == 4'd2 && req_addr[7:4] == 4'd0)
                fanin0 <= req_wdata[8:0];
        end
    end
    wire count_wr = cfg_wr && ((region_reg && req_addr[7:0] == 8'd3)
                               || (region_layer && cfg_field == 4'd1));
    always @(posedge clk) begin
        if (rst || count_wr) begin
            count_age <= 2'd3;
        end else if (count_age != 2'd0) begin
            // 3: wait for a cycle that reads the last layer; 2: take its count; 1: room.
            if (count_age != 2'd3 || (idle && !req_valid)) count_age <= count_age - 2'd1;
            if (count_age == 2'd2) last_count <= {lt_aq[79], lt_bq[7:0]};
        end
    end

    // Sticky flags: set by events, cleared by writing ones to STATUS (a set wins).
    wire [5:0] flag_set;
    assign flag_set[F_ADDR] = in_event && addr_bad;
    assign flag_set[F_LIST] = in_event && !addr_bad && list_full;
    assign flag_set[F_CFG] = req_valid && !mapped;
    assign flag_set[F_UWRAP] = dp_valid && dp_uwrap;
    assign flag_set[F_VSAT] = dp_valid && dp_vsat;
    assign flag_set[F_I32] = dp_valid && dp_i32;
    wire [5:0] flag_clr = (cfg_wr && region_reg && req_addr[7:0] == 8'd1) ? req_wdata[5:0]
                                                                           : 6'd0;
    always @(posedge clk) begin
        if (rst) flag_r <= 6'd0;
        else if (flag_set != 6'd0 || flag_clr != 6'd0) flag_r <= (flag_r & ~flag_clr) | flag_set;
    end

    // Input drain: events into the list being filled, a tick closes it.
    always @(posedge clk) begin
        if (rst || clear_done) begin
            fill_cnt <= 9'd0;
            fbuf <= 2'd0;
            in_cnt0 <= 9'd0;
            in_cnt1 <= 9'd0;
            in_cnt2 <= 9'd0;
        end else if (pop && !bypass) begin
            if (fi_data[9]) begin
                if (fbuf == 2'd0) in_cnt0 <= fill_cnt;
                if (fbuf == 2'd1) in_cnt1 <= fill_cnt;
                if (fbuf == 2'd2) in_cnt2 <= fill_cnt;
                fill_cnt <= 9'd0;
                fbuf <= next3(fbuf);
            end else if (list_we) begin
                fill_cnt <= fill_cnt + 9'd1;
            end
        end
    end

    // Step bookkeeping: ticks pending, steps done, the list the next step reads, busy cycles
    // (the two counters are MAC16 accumulators on iCE40: nt_count.v).
    always @(posedge clk) begin
        if (rst || clear_done) begin
            ahead <= 2'd0;
            rbuf <= 2'd2;
        end else if (pop_tick || step_done) begin
            if (ticked && !step_done) ahead <= ahead + 2'd1;
            else if (step_done && !ticked) ahead <= ahead - 2'd1;
            if (step_done) rbuf <= next3(rbuf);
        end
    end
    nt_count step_count (
        .clk(clk), .clr(rst || clear_done), .inc(step_done || (bypass && pop_tick)),
        .count(step_r)
    );
    nt_count busy_count (
        .clk(clk), .clr(rst || clear_done), .inc(!idle && !clearing), .count(busy_cycles)
    );

    // Step control: clear, then per layer setup, token issue and drain.
    always @(posedge clk) begin
        if (rst) begin
            state <= S_IDLE;
            for (k = 0; k < N_LAYERS; k = k + 1) scount[k] <= 9'd0;
        end else if (!idle || clear_req || can_start) begin
            if (dp_valid && dp_spike) cur_spikes <= cur_spikes + 9'd1;
            if (up_active) rd_n <= rd_n + 8'd1;
            if (dp_valid) wb_n <= wb_n + 8'd1;
            if (dp_mid_valid) uw_n <= uw_n + 8'd1;
            // The weight base moves to the next group once A1 has issued the group's last read.
            if (a1_valid && a1_last) g_wbase <= g_wbase + {7'd0, cur_fanin};
            case (state)
                S_IDLE: begin
                    if (clear_req) begin
                        state <= S_CLEAR;
                        clr_idx <= 9'd0;
                    end else if (!req_valid) begin
                        cur_l <= last_l;
                        state <= S_SETUP;
                    end
                end
                S_CLEAR: begin
                    clr_idx <= clr_idx + 9'd1;
                    if (clear_done) begin
                        state <= S_IDLE;
                        for (k = 0; k < N_LAYERS; k = k + 1) scount[k] <= 9'd0;
                    end
                end
                S_SETUP: begin
                    cur_last <= cur_l == last_l;
                    cur_from_in <= cur_l == 3'd0;
                    cur_spikes <= 9'd0;
                    src_n <= setup_src;
                    tok <= (setup_src == 9'd0) ? 9'd0 : setup_src - 9'd1;
                    tok_last_rest <= (setup_src > LANES9) ? setup_src - 9'd1 : LANES9 - 9'd1;
                    src_base <= (cur_l == 3'd0) ? 8'd0 : lt_bq[15:8];
                    g_wbase <= lt_aq[15:0];
                    rd_n <= cur_base;
                    wb_n <= cur_base;
                    uw_n <= cur_base;
                    g_rem <= {lt_aq[79], lt_bq[7:0]};
                    state <= S_RUN;
                end
                S_RUN: begin
                    a1_last <= tok_end;
                    a1_wv <= tok < src_n;
                    a1_final <= g_final;
                    if (tok_end) begin
                        tok <= tok_last_rest;
                        g_rem <= g_rem - LANES9;
                        if (g_final) state <= S_DRAIN;
                    end else begin
                        tok <= tok - 9'd1;
                    end
                end
                S_DRAIN: begin
                    if (drained) begin
                        scount[cur_l[LIW-1:0]] <= cur_spikes;
                        if (cur_l == 3'd0) begin
                            state <= S_END;
                        end else begin
                            cur_l <= prev_l;
                            state <= S_SETUP;
                        end
                    end
                end
                default: state <= S_IDLE;  // S_END: the tick goes out, the step is counted
            endcase
        end
    end

    // Accumulate pipeline (A1: list word, A2: weight word), update sequencer, N1 stage.
    always @(posedge clk) begin
        if (rst) begin
            a1_valid <= 1'b0;
            a2_valid <= 1'b0;
            up_active <= 1'b0;
            n1_valid <= 1'b0;
            acc_lo <= {8*LANES{1'b0}};
            acc_hi <= {8*LANES{1'b0}};
        end else if (state == S_RUN || a1_valid || a2_valid || up_active || n1_valid) begin
            a1_valid <= state == S_RUN;
            a2_valid <= a1_valid;
            if (a1_valid) begin
                a2_last <= a1_last;
                a2_wv <= a1_wv;
                a2_final <= a1_final;
            end
            if (a2_valid && a2_last) begin
                acc_lo <= {8*LANES{1'b0}};
                acc_hi <= {8*LANES{1'b0}};
            end else if (a2_valid && a2_wv) begin
                acc_lo <= lane_lo;
                acc_hi <= lane_hi;
            end
            // A finished group hands its sums to the update sequencer (zero when the group had
            // no event, the only case where its last token carries none).
            if (a2_valid && a2_last && !a2_wv) begin
                ub_lo <= {8*LANES{1'b0}};
                ub_hi <= {8*LANES{1'b0}};
            end else if (a2_valid && a2_last) begin
                ub_lo <= lane_lo;
                ub_hi <= lane_hi;
            end else if (up_active) begin
                ub_lo <= ub_lo >> 8;
                ub_hi <= ub_hi >> 8;
            end
            if (a2_valid && a2_last) begin
                up_final <= a2_final;
                up_j <= {LW{1'b0}};
                up_active <= 1'b1;
            end else if (up_active) begin
                up_j <= up_j + {{(LW - 1){1'b0}}, 1'b1};
                if (up_end) up_active <= 1'b0;
            end
            n1_valid <= up_active;
            if (up_active) n1_acc <= lane_acc[ACC_W-1:0];
        end
    end

    assign prev_l = cur_l - 3'd1;

    // ------------------------------------------------------------------ layer table
    // The layer registers live in block RAM rather than in flip-flops and multiplexers. lt_a
    // holds a layer's fields; lt_b the low byte of its count and the base of the layer below,
    // whose spike list feeds it (written with that layer's base, at the next address). The
    // read port is addressed one cycle ahead of a layer change (from idle, or when a layer has
    // drained) and then holds the current layer's words, which the step control and the
    // datapath use as they are; while idle the configuration port reads it.
    //   lt_a: [15:0] wbase, [23:16] base, [32:24] fan-in, [49:33] vth, [61:50] dv,
    //         [73:62] du, [77:74] wexp, [78] mode, [79] count[8]
    //   lt_b: [7:0] count[7:0], [15:8] base of the layer below
    (* ram_style = "block", no_rw_check *) reg [79:0] lt_a [0:N_LAYERS-1];
    (* ram_style = "block", no_rw_check *) reg [15:0] lt_b [0:N_LAYERS-1];
    reg [79:0] lt_aq, lt_a_mask;
    reg [15:0] lt_bq, lt_b_mask;
    initial begin
        for (k = 0; k < N_LAYERS; k = k + 1) begin
            lt_a[k] = 80'd0;
            lt_b[k] = 16'd0;
        end
    end
    // A write sets one field: bit enables, as the EBR has them.
    always @* begin
        lt_a_mask = 80'd0;
        lt_b_mask = 16'd0;
        case (cfg_field)
            4'd0: begin
                lt_a_mask[23:16] = 8'hff;
                lt_b_mask[15:8] = 8'hff;
            end
            4'd1: begin
                lt_a_mask[79] = 1'b1;
                lt_b_mask[7:0] = 8'hff;
            end
            4'd2: lt_a_mask[32:24] = 9'h1ff;
            4'd3: lt_a_mask[15:0] = 16'hffff;
            4'd4: lt_a_mask[77:74] = 4'hf;
            4'd5: lt_a_mask[73:62] = 12'hfff;
            4'd6: lt_a_mask[61:50] = 12'hfff;
            4'd7: lt_a_mask[49:33] = 17'h1ffff;
            default: lt_a_mask[78] = 1'b1;
        endcase
    end
    wire [79:0] lt_a_wdata = {req_wdata[8], req_wdata[0], req_wdata[3:0], req_wdata[11:0],
                              req_wdata[11:0], req_wdata[16:0], req_wdata[8:0],
                              req_wdata[7:0], req_wdata[15:0]};
    wire lt_we = cfg_wr && region_layer;
    // Layer numbers are 3 bits (a mapped layer address has zeros above cl); the table takes
    // the low LIW bits.
    /* verilator lint_off UNUSEDSIGNAL */
    wire [2:0] lt_b_waddr = req_addr[6:4] + {2'd0, cfg_field == 4'd0};
    wire [2:0] lt_raddr = idle ? (req_valid ? req_addr[6:4] : last_l)
                          : (state == S_DRAIN && drained) ? prev_l : cur_l;
    /* verilator lint_on UNUSEDSIGNAL */
    integer b;
    always @(posedge clk) begin
        if (lt_we) begin
            for (b = 0; b < 80; b = b + 1) if (lt_a_mask[b]) lt_a[cl][b] <= lt_a_wdata[b];
            for (b = 0; b < 16; b = b + 1)
                if (lt_b_mask[b]) lt_b[lt_b_waddr[LIW-1:0]][b] <= req_wdata[b % 8];
        end
        if (idle || state == S_DRAIN) begin
            lt_aq <= lt_a[lt_raddr[LIW-1:0]];
            lt_bq <= lt_b[lt_raddr[LIW-1:0]];
        end
    end
    assign cur_base = lt_aq[23:16];
    assign cur_fanin = lt_aq[32:24];
    assign cur_vth = lt_aq[49:33];
    assign cur_dv = lt_aq[61:50];
    assign cur_du = lt_aq[73:62];
    assign cur_wexp = lt_aq[77:74];
    assign cur_act = lt_aq[78];
    always @* begin
        case (rd_field)
            4'd0: layer_word = {24'd0, cur_base};
            4'd1: layer_word = {23'd0, lt_aq[79], lt_bq[7:0]};
            4'd2: layer_word = {23'd0, cur_fanin};
            4'd3: layer_word = {16'd0, lt_aq[15:0]};
            4'd4: layer_word = {28'd0, cur_wexp};
            4'd5: layer_word = {20'd0, cur_du};
            4'd6: layer_word = {20'd0, cur_dv};
            4'd7: layer_word = {15'd0, cur_vth};
            default: layer_word = {31'd0, cur_act};
        endcase
    end

    // The datapath's tag is not needed: wb_n follows the neurons it writes back.
    /* verilator lint_off UNUSEDSIGNAL */
    wire dp_tag;
    /* verilator lint_on UNUSEDSIGNAL */
    lif_datapath #(.ACC_W(ACC_W), .TAG_W(1)) datapath (
        .clk(clk), .rst(rst),
        .in_valid(n1_valid),
        .in_u(u_q), .in_v(v_q),
        .in_act_mode(cur_act), .in_acc(n1_acc), .in_act(act_q),
        .in_wexp(cur_wexp), .in_du(cur_du), .in_dv(cur_dv), .in_vth(cur_vth),
        .in_bias_mant(bias_q[12:0]), .in_bias_exp(bias_q[15:13]),
        .in_tag(1'b0),
        .out_valid(dp_valid), .out_u(dp_u), .out_v(dp_v), .out_spike(dp_spike),
        .out_tag(dp_tag), .out_u_wrap(dp_uwrap), .out_v_sat(dp_vsat),
        .out_i32_wrap(dp_i32), .busy(dp_busy), .mid_valid(dp_mid_valid), .mid_u(dp_mid_u)
    );

    assign trace_valid = dp_valid;
    assign trace_layer = cur_l;
    assign trace_neuron = dp_local;
    assign trace_spike = dp_spike;
    assign trace_u = dp_u;
    assign trace_v = dp_v;
endmodule

`default_nettype wire
