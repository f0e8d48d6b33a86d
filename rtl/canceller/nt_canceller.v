// The spiking artefact canceller's step with its learning unit (docs/ppg.md, "The spiking
// canceller"): the arithmetic of neuro/canceller_snn.py's _kernel, word for word.
//
// Per step (one sample): the delivered signed event counts of the primaries (cp) and the
// references (cr) come in; each reference's trace decays and integrates its events; each
// primary's error neurons e+ and e- (CUBA-LIF of the fixed-point contract) take
// a = dense(P cp - sum_{r,k} m[p,r,k] cr[n-1-5k]) and -a; when one spikes, every tap's counter
// adds sign(error) * sign(trace) (sign-sign rule; sign-error adds sign * (trace >> 7)) and a
// counter reaching +-THRESHOLD moves its 8-bit mantissa by one: one programming pulse, also
// sent out on pulse_* for a crossbar to apply. u of e+ is the cleaned sample.
//
// One operation per clock: from accepting a step to out_valid, N_R + 1 + N_P (N_R TAPS + 7)
// clocks, plus N_R TAPS per primary whose error neurons spike (the learning sweep): 114 to 210
// for 2 PPG channels, 3 references and 16 taps, against 96 000 in 8 ms at 12 MHz. The state
// port loads and reads every memory while the unit is idle, so that a stream can continue
// from where an earlier run left it (neuro/backends/canceller_rtl.py runs it chunk by chunk).
`default_nettype none

module nt_canceller #(
    parameter N_P = 2,                 // primaries
    parameter N_R = 3,                 // references
    parameter TAPS = 16,
    parameter SPACING = 5              // samples between taps
) (
    input  wire                  clk,
    input  wire                  rst,
    // configuration (held while running)
    input  wire signed [15:0]    primary_weight,
    input  wire signed [3:0]     weight_exp,
    input  wire [11:0]           du,
    input  wire [16:0]           vth,
    input  wire [15:0]           threshold,    // counter threshold (one pulse)
    input  wire [7:0]            limit,        // mantissa limit (127)
    input  wire                  rule,         // 0 sign-sign, 1 sign-error
    input  wire                  learning,
    // State access while idle: load a stream's state to continue it (a chunk starts where
    // the last one stopped, or from trained taps), read it back. st_sel picks the memory,
    // st_addr the word in it: 0 mantissas m and 1 counters, index (p N_R + r) TAPS + k;
    // 2 delivered reference counts and 3 their traces, rings of HIST per reference, index
    // r HIST + i; 4 traces, index r; 5 u and 6 v, index 2 p + j (j = 0 e+, 1 e-); 7 the
    // rings' position (the slot of the last step). Narrow words are sign-extended on read
    // and take the low bits on write; st_rdata is registered, as block RAM reads are (the
    // word st_sel and st_addr named at the last clock edge).
    input  wire                  st_we,
    input  wire [2:0]            st_sel,
    input  wire [$clog2(N_P*TAPS > (TAPS-1)*SPACING+1 ? N_R*N_P*TAPS
                        : N_R*((TAPS-1)*SPACING+1))-1:0] st_addr,  // the larger memory's
    input  wire signed [31:0]    st_wdata,
    output reg  signed [31:0]    st_rdata,
    // one step
    input  wire                  step_valid,
    output wire                  step_ready,
    input  wire [8*N_P-1:0]      cp,           // signed 8-bit counts, primary 0 in the low byte
    input  wire [8*N_R-1:0]      cr,
    output reg                   out_valid,    // one clock: the step's records below
    output reg  [64*N_P-1:0]     u_out,        // per primary {u(e-), u(e+)}, 32 bits each
    output reg  [64*N_P-1:0]     v_out,
    output reg  [2*N_P-1:0]      s_out,
    output reg                   pulse_valid,  // a mantissa moved: +1 (up) or -1
    output reg  [$clog2(N_P*N_R*TAPS)-1:0] pulse_addr,
    output reg                   pulse_up
);
    localparam HIST = (TAPS - 1) * SPACING + 1;
    localparam NM = N_P * N_R * TAPS;
    localparam MW = $clog2(NM);
    localparam HW = $clog2(N_R * HIST);
    localparam signed [31:0] V_MAX = 32'sd8388607;

    // contract decay: x (4096 - d) / 4096, rounded toward zero
    /* verilator lint_off UNUSEDSIGNAL */
    function signed [31:0] decay(input signed [31:0] x, input [12:0] d);
        reg [31:0] mag;
        reg [12:0] keep;
        reg [44:0] prod;               // < 2^43: bit 44 and the 12 fraction bits unused
        begin
            mag = x[31] ? -x : x;
            keep = 13'd4096 - d;
            prod = {13'd0, mag} * {32'd0, keep};
            decay = x[31] ? -$signed(prod[43:12]) : $signed(prod[43:12]);
        end
    endfunction
    /* verilator lint_on UNUSEDSIGNAL */

    reg signed [7:0]  hc [0:N_R*HIST-1];   // delivered reference counts, a ring per reference
    reg signed [31:0] ht [0:N_R*HIST-1];   // their traces, likewise
    reg signed [31:0] tr [0:N_R-1];
    reg signed [7:0]  m [0:NM-1];
    reg signed [15:0] acc [0:NM-1];
    reg signed [31:0] uu [0:2*N_P-1];
    reg signed [31:0] vv [0:2*N_P-1];

    localparam [3:0] S_IDLE = 4'd0, S_TRACE = 4'd1, S_MAC_INIT = 4'd2, S_MAC = 4'd3,
                     S_DENSE = 4'd4, S_NU = 4'd5, S_NV = 4'd6, S_LEARN = 4'd7,
                     S_NEXT = 4'd8, S_OUT = 4'd9;
    reg [3:0] state;
    // Loop indices as integers (synthesis keeps the bits they need).
    integer pos, idx;                      // ring position of this step; tap k's position
    integer p, r, k;
    reg          j;
    reg [8*N_P-1:0] cp_r;
    reg [8*N_R-1:0] cr_r;
    reg signed [63:0] total, a;
    reg signed [31:0] u_new;
    reg signed [1:0]  sgn;                  // sign of the error: +1 e+, -1 e-, 0
    integer i;

    /* verilator lint_off UNUSEDSIGNAL */
    wire [31:0] mi_full = (p * N_R + r) * TAPS + k;
    wire [31:0] hi_full = r * HIST + idx;
    wire signed [63:0] a_j = j ? -a : a;   // e+ (j = 0) from a, e- from -a
    /* verilator lint_on UNUSEDSIGNAL */
    wire [MW-1:0] mi = mi_full[MW-1:0];
    wire [HW-1:0] hi = hi_full[HW-1:0];
    wire signed [7:0] cr_k = cr_r[8 * r +: 8];
    wire signed [7:0] cp_k = cp_r[8 * p +: 8];
    wire signed [31:0] t_new = decay(tr[r], du + 13'd1) + ($signed({{24{cr_k[7]}}, cr_k}) <<< 7);
    wire signed [31:0] drive = {a_j[25:0], 6'd0};  // wrap32(a << 6)
    wire signed [31:0] u_sum = decay(uu[2 * p + j], du + 13'd1) + drive;
    wire signed [31:0] u_wrapped = (u_sum > 32'sd8388608) ? u_sum - 32'sd16777216
                                 : (u_sum <= -32'sd8388608) ? u_sum + 32'sd16777216 : u_sum;
    wire signed [31:0] v_sum = decay(vv[2 * p + j], 13'd4095) + u_new;
    wire signed [31:0] v_clip = (v_sum > V_MAX) ? V_MAX : (v_sum < -V_MAX) ? -V_MAX : v_sum;
    wire spike = v_clip > $signed({9'd0, vth, 6'd0});
    // the learning step of tap (p, r, k)
    wire signed [31:0] x = ht[hi];
    wire signed [31:0] x_sign = (x > 0) ? 32'sd1 : (x < 0) ? -32'sd1 : 32'sd0;
    wire signed [31:0] step = rule ? (sgn[1] ? -(x >>> 7) : (x >>> 7))
                                   : (sgn[1] ? -x_sign : x_sign);
    wire signed [15:0] acc_now = acc[mi];
    wire signed [31:0] acc_sum = {{16{acc_now[15]}}, acc_now} + step;
    wire signed [31:0] thr = {16'd0, threshold};
    wire signed [7:0]  lim = limit;
    wire up = acc_sum >= thr;
    wire down = acc_sum <= -thr;
    wire signed [31:0] acc_left = up ? acc_sum - thr : down ? acc_sum + thr : acc_sum;
    wire move_up = up && m[mi] < lim;
    wire move_down = down && m[mi] > -lim;
    wire last_tap = k == TAPS - 1;
    wire last_ref = r == N_R - 1;
    wire [31:0] idx_back = (idx >= SPACING) ? idx - SPACING : idx + HIST - SPACING;

    assign step_ready = state == S_IDLE;

    // The state port's word index, cut to each memory's address width.
    localparam TW = N_R > 1 ? $clog2(N_R) : 1;
    localparam NW = $clog2(2 * N_P);
    wire [MW-1:0] st_m = st_addr[MW-1:0];
    wire [HW-1:0] st_h = st_addr[HW-1:0];
    wire [TW-1:0] st_t = st_addr[TW-1:0];
    wire [NW-1:0] st_n = st_addr[NW-1:0];

    always @(posedge clk) begin
        out_valid <= 1'b0;
        pulse_valid <= 1'b0;
        case (st_sel)
            3'd0: st_rdata <= {{24{m[st_m][7]}}, m[st_m]};
            3'd1: st_rdata <= {{16{acc[st_m][15]}}, acc[st_m]};
            3'd2: st_rdata <= {{24{hc[st_h][7]}}, hc[st_h]};
            3'd3: st_rdata <= ht[st_h];
            3'd4: st_rdata <= tr[st_t];
            3'd5: st_rdata <= uu[st_n];
            3'd6: st_rdata <= vv[st_n];
            default: st_rdata <= pos;
        endcase
        if (st_we) case (st_sel)
            3'd0: m[st_m] <= st_wdata[7:0];
            3'd1: acc[st_m] <= st_wdata[15:0];
            3'd2: hc[st_h] <= st_wdata[7:0];
            3'd3: ht[st_h] <= st_wdata;
            3'd4: tr[st_t] <= st_wdata;
            3'd5: uu[st_n] <= st_wdata;
            3'd6: vv[st_n] <= st_wdata;
            default: pos <= st_wdata;
        endcase
        if (rst) begin
            state <= S_IDLE;
            pos <= 0;
            for (i = 0; i < N_R * HIST; i = i + 1) begin
                hc[i] <= 8'sd0;
                ht[i] <= 32'sd0;
            end
            for (i = 0; i < N_R; i = i + 1) tr[i] <= 32'sd0;
            for (i = 0; i < NM; i = i + 1) begin
                m[i] <= 8'sd0;
                acc[i] <= 16'sd0;
            end
            for (i = 0; i < 2 * N_P; i = i + 1) begin
                uu[i] <= 32'sd0;
                vv[i] <= 32'sd0;
            end
        end else case (state)
            S_IDLE: if (step_valid) begin
                cp_r <= cp;
                cr_r <= cr;
                pos <= (pos == HIST - 1) ? 0 : pos + 1;
                idx <= (pos == HIST - 1) ? 0 : pos + 1;
                r <= 0;
                state <= S_TRACE;
            end
            S_TRACE: begin
                hc[hi] <= cr_k;            // idx = pos here
                tr[r] <= t_new;
                ht[hi] <= t_new;
                r <= r + 1;
                if (last_ref) begin
                    p <= 0;
                    state <= S_MAC_INIT;
                end
            end
            S_MAC_INIT: begin
                total <= primary_weight * cp_k;
                r <= 0;
                k <= 0;
                idx <= pos;
                state <= S_MAC;
            end
            S_MAC: begin
                total <= total - m[mi] * hc[hi];
                if (last_tap) begin
                    k <= 0;
                    idx <= pos;
                    r <= r + 1;
                    if (last_ref) state <= S_DENSE;
                end else begin
                    k <= k + 1;
                    idx <= idx_back;
                end
            end
            S_DENSE: begin             // 2 x sum, scaled by 2^weight_exp (floor)
                a <= weight_exp[3] ? (total <<< 1) >>> (-weight_exp)
                                   : (total <<< 1) <<< weight_exp;
                j <= 1'b0;
                sgn <= 2'sd0;
                state <= S_NU;
            end
            S_NU: begin
                u_new <= u_wrapped;
                state <= S_NV;
            end
            S_NV: begin
                uu[2 * p + j] <= u_new;
                vv[2 * p + j] <= spike ? 32'sd0 : v_clip;
                u_out[64 * p + 32 * j +: 32] <= u_new;
                v_out[64 * p + 32 * j +: 32] <= spike ? 32'sd0 : v_clip;
                s_out[2 * p + j] <= spike;
                if (spike) sgn <= j ? sgn - 2'sd1 : 2'sd1;
                if (!j) begin
                    j <= 1'b1;
                    state <= S_NU;
                end else begin
                    r <= 0;
                    k <= 0;
                    idx <= pos;
                    state <= (learning && (spike ? sgn != 2'sd1 : sgn != 2'sd0)) ? S_LEARN
                           : S_NEXT;
                    if (spike) sgn <= sgn - 2'sd1;
                end
            end
            S_LEARN: begin
                acc[mi] <= (acc_left > thr) ? thr[15:0] : (acc_left < -thr) ? -thr[15:0]
                         : acc_left[15:0];
                if (move_up || move_down) begin
                    m[mi] <= m[mi] + (move_up ? 8'sd1 : -8'sd1);
                    pulse_valid <= 1'b1;
                    pulse_addr <= mi;
                    pulse_up <= move_up;
                end
                if (last_tap) begin
                    k <= 0;
                    idx <= pos;
                    r <= r + 1;
                    if (last_ref) state <= S_NEXT;
                end else begin
                    k <= k + 1;
                    idx <= idx_back;
                end
            end
            S_NEXT: begin
                if (p == N_P - 1) state <= S_OUT;
                else begin
                    p <= p + 1;
                    state <= S_MAC_INIT;
                end
            end
            default: begin             // S_OUT
                out_valid <= 1'b1;
                state <= S_IDLE;
            end
        endcase
    end
endmodule

`default_nettype wire
