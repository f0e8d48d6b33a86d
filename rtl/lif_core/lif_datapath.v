// CUBA-LIF neuron update: the arithmetic of docs/fixed-point.md, one neuron per clock.
//
// Seven register stages, no stalls: a neuron entering with in_valid leaves LATENCY cycles later
// with out_valid. Per-neuron operands travel with the neuron; the layer constants (in_wexp,
// in_du, in_dv, in_vth) are read where they are needed and must hold while `busy` (the core
// changes them only between layers, the unit bench only between steps).
//
//   u <- wrap24(wrap32(decay(u, du + 1) + drive))
//   v <- clip(wrap32(decay(v, dv) + u + (bias_mant << bias_exp)))
//   s <- v > (vth << 6);  v <- 0 where s
//
// drive is the Dense output a shifted by the activation shift, a << 6 in a 32-bit word, where a
// is the activation-port word (act_mode: a crossbar's ADC output) or floor(2 * acc * 2**wexp)
// from the summed weight mantissas acc.
`default_nettype none

module lif_datapath #(
    parameter ACC_W = 16,              // summed mantissas: 8 + log2(max fan-in) bits
    parameter TAG_W = 8                // caller's tag, carried alongside the neuron
) (
    input  wire              clk,
    input  wire              rst,
    input  wire              in_valid,
    input  wire [31:0]       in_u,
    input  wire [23:0]       in_v,
    input  wire              in_act_mode,
    input  wire [ACC_W-1:0]  in_acc,
    input  wire [31:0]       in_act,       // Dense output a from the activation port
    input  wire [3:0]        in_wexp,      // layer constants: signed -8..7
    input  wire [11:0]       in_du,
    input  wire [11:0]       in_dv,
    input  wire [16:0]       in_vth,
    input  wire [12:0]       in_bias_mant, // signed
    input  wire [2:0]        in_bias_exp,
    input  wire [TAG_W-1:0]  in_tag,
    output reg               out_valid,
    output reg  [31:0]       out_u,
    output reg  [23:0]       out_v,
    output reg               out_spike,
    output reg  [TAG_W-1:0]  out_tag,
    output reg               out_u_wrap,   // the 24-bit current wrap acted
    output reg               out_v_sat,    // the voltage saturated
    output reg               out_i32_wrap, // a 32-bit sum wrapped (input above 2**24 per step)
    output wire              busy          // a neuron is somewhere in the pipeline
);
    localparam LATENCY = 7;
    localparam signed [31:0] U_POS = 32'sd8388608;    // 2**23: the wrap triggers above it
    localparam signed [31:0] U_NEG = -32'sd8388608;   // and at or below -2**23
    localparam signed [31:0] U_SPAN = 32'sd16777216;  // 2**24
    localparam signed [31:0] V_MAX = 32'sd8388607;    // 2**23 - 1
    localparam signed [31:0] V_MIN = -32'sd8388607;

    reg [LATENCY-1:1] valid;
    assign busy = |valid || out_valid;

    // Stage 1: register the operands, so that the multipliers start from flip-flops.
    reg signed [31:0] s1_u;
    reg signed [23:0] s1_v;
    reg s1_act_mode;
    reg signed [ACC_W-1:0] s1_acc;
    // a << 6 keeps the low 26 bits of a: the top ones leave the 32-bit word (int32 wrap).
    /* verilator lint_off UNUSEDSIGNAL */
    reg signed [31:0] s1_act;
    /* verilator lint_on UNUSEDSIGNAL */
    reg signed [12:0] s1_bias_mant;
    reg [2:0] s1_bias_exp;
    reg [TAG_W-1:0] s1_tag;

    // Stage 2: decay products, synaptic drive, bias.
    reg signed [45:0] s2_pu;           // u * ku
    reg signed [37:0] s2_pv;           // v * kv
    reg signed [31:0] s2_drive;
    reg signed [19:0] s2_bias;
    reg [TAG_W-1:0] s2_tag;

    // Stage 3: decays rounded toward zero.
    reg signed [31:0] s3_du;
    reg signed [23:0] s3_dv;
    reg signed [31:0] s3_drive;
    reg signed [19:0] s3_bias;
    reg [TAG_W-1:0] s3_tag;

    // Stage 4: current sum in a 32-bit word.
    reg signed [31:0] s4_usum;
    reg s4_i32;
    reg signed [24:0] s4_vpart;        // decay(v) + bias, kept apart until u is known
    reg [TAG_W-1:0] s4_tag;

    // Stage 5: 24-bit current wrap.
    reg signed [31:0] s5_u;
    reg s5_wrap, s5_i32;
    reg signed [24:0] s5_vpart;
    reg [TAG_W-1:0] s5_tag;

    // Stage 6: voltage sum in a 32-bit word.
    reg signed [31:0] s6_u;
    reg signed [31:0] s6_vsum;
    reg s6_wrap, s6_i32;
    reg [TAG_W-1:0] s6_tag;

    wire [12:0] ku = 13'd4095 - {1'b0, in_du};  // current decay factor: 4096 - du - 1
    wire [12:0] kv = 13'd4096 - {1'b0, in_dv};  // voltage decay factor: 4096 - dv

    // Combinational logic of each stage, in procedural blocks: an event-driven simulator runs
    // them as word operations once per neuron, where continuous assignments would be
    // re-evaluated bit by bit.
    reg signed [31:0] acc32, dense;
    reg signed [19:0] bias20;
    always @* begin
        // Dense input: 2 * acc * 2**wexp, then the 6-bit activation shift. For wexp >= -1
        // that is one left shift by 7 + wexp; below, Dense's arithmetic right shift by
        // -1 - wexp (~wexp) floors.
        acc32 = {{(32 - ACC_W){s1_acc[ACC_W-1]}}, s1_acc};
        dense = ($signed(in_wexp) >= -4'sd1) ? acc32 <<< (in_wexp + 4'd7)
                                             : (acc32 >>> ~in_wexp) <<< 6;
        bias20 = {{7{s1_bias_mant[12]}}, s1_bias_mant};
    end

    // Truncation toward zero: a negative product gets 4095 added before the arithmetic shift.
    // The shifted-out bits and the top bits (|decay(x)| <= |x|) are dropped on purpose.
    /* verilator lint_off UNUSEDSIGNAL */
    reg signed [45:0] pu_round;
    reg signed [37:0] pv_round;
    /* verilator lint_on UNUSEDSIGNAL */
    always @* begin
        pu_round = s2_pu + (s2_pu[45] ? 46'sd4095 : 46'sd0);
        pv_round = s2_pv + (s2_pv[37] ? 38'sd4095 : 38'sd0);
    end

    reg signed [31:0] usum;
    always @* usum = s3_du + s3_drive;

    reg wrap_hi, wrap_lo;
    always @* begin
        wrap_hi = s4_usum > U_POS;
        wrap_lo = s4_usum <= U_NEG;
    end

    reg signed [33:0] vsum;
    always @* vsum = {{2{s5_u[31]}}, s5_u} + {{9{s5_vpart[24]}}, s5_vpart};

    reg v_hi, v_lo, fire;
    always @* begin
        v_hi = s6_vsum > V_MAX;
        v_lo = s6_vsum < V_MIN;
        // v > vth << 6 after the clip: a saturated-high v (2**23 - 1) is above every
        // threshold (at most 2**23 - 64), a saturated-low one below all of them.
        fire = v_hi || (!v_lo && s6_vsum > $signed({9'd0, in_vth, 6'd0}));
    end

    // Each stage loads only when a neuron enters it (clock enables: no toggling when idle).
    always @(posedge clk) begin
        if (rst) begin
            valid <= 0;
            out_valid <= 1'b0;
        end else if (in_valid || busy) begin
            valid <= {valid[LATENCY-2:1], in_valid};
            out_valid <= valid[LATENCY-1];
        end
        if (in_valid) begin
            s1_u <= in_u;
            s1_v <= in_v;
            s1_act_mode <= in_act_mode;
            s1_acc <= in_acc;
            s1_act <= in_act;
            s1_bias_mant <= in_bias_mant;
            s1_bias_exp <= in_bias_exp;
            s1_tag <= in_tag;
        end
        if (valid[1]) begin
            s2_pu <= s1_u * $signed({1'b0, ku});
            s2_pv <= s1_v * $signed({1'b0, kv});
            s2_drive <= s1_act_mode ? {s1_act[25:0], 6'd0} : dense;  // a << 6, 32 bits
            s2_bias <= bias20 <<< s1_bias_exp;
            s2_tag <= s1_tag;
        end
        if (valid[2]) begin
            s3_du <= pu_round[43:12];
            s3_dv <= pv_round[35:12];
            s3_drive <= s2_drive;
            s3_bias <= s2_bias;
            s3_tag <= s2_tag;
        end
        if (valid[3]) begin
            s4_usum <= usum;
            // Two's-complement overflow of the 32-bit add: the int32 wrap of Lava's words.
            s4_i32 <= (s3_du[31] == s3_drive[31]) && (usum[31] != s3_du[31]);
            s4_vpart <= {s3_dv[23], s3_dv} + {{5{s3_bias[19]}}, s3_bias};
            s4_tag <= s3_tag;
        end
        if (valid[4]) begin
            s5_u <= wrap_hi ? s4_usum - U_SPAN : (wrap_lo ? s4_usum + U_SPAN : s4_usum);
            s5_wrap <= wrap_hi || wrap_lo;
            s5_i32 <= s4_i32;
            s5_vpart <= s4_vpart;
            s5_tag <= s4_tag;
        end
        if (valid[5]) begin
            s6_u <= s5_u;
            s6_vsum <= vsum[31:0];
            s6_wrap <= s5_wrap;
            s6_i32 <= s5_i32 || (vsum[33:31] != {3{vsum[31]}});
            s6_tag <= s5_tag;
        end
        if (valid[6]) begin
            out_u <= s6_u;
            out_v <= fire ? 24'd0 : v_hi ? V_MAX[23:0] : v_lo ? V_MIN[23:0] : s6_vsum[23:0];
            out_spike <= fire;
            out_tag <= s6_tag;
            out_u_wrap <= s6_wrap;
            out_v_sat <= v_hi || v_lo;
            out_i32_wrap <= s6_i32;
        end
    end
endmodule

`default_nettype wire
