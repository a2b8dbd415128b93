"""The gradient checker's words in English and Korean (``--lang ko``, HANDGRAD_LANG=ko).

The headline, the per-input verdict and a one-sentence summary of every diagnosis are in
both languages; the detailed explanation under a diagnosis stays in English for now (its
text is built from the numbers of the case).
"""

from __future__ import annotations

from handgrad.i18n import Messages

MSG = Messages("gradcheck", {
    "ok": {"en": "OK: {title}: gradients of {n} input(s)/parameter(s) agree "
                 "(max relative error {err})",
           "ko": "OK: {title}: 입력/매개변수 {n}개의 기울기가 수치 미분과 일치합니다 "
                 "(최대 상대 오차 {err})"},
    "failed": {"en": "gradcheck FAILED for {title}: {bad} of {n} checked input(s)/"
                     "parameter(s) disagree with the numerical gradient.",
               "ko": "기울기 확인 실패: {title}: 확인한 입력/매개변수 {n}개 중 {bad}개의 "
                     "기울기가 수치 미분과 다릅니다."},
    "summary": {"en": "  SUMMARY ({diagnosis}): {text}", "ko": "  요약 ({diagnosis}): {text}"},
})

#: one sentence per diagnosis key
DIAGNOSES = Messages("gradcheck.diagnosis", {
    "sign": {"en": "the sign of the gradient is flipped.",
             "ko": "기울기의 부호가 반대입니다."},
    "factor": {"en": "the gradient is off by a constant factor.",
               "ko": "기울기가 상수배만큼 다릅니다."},
    "transposed": {"en": "the gradient is transposed.",
                   "ko": "기울기가 전치되어 있습니다."},
    "shape": {"en": "the gradient has the wrong shape.",
              "ko": "기울기의 형상이 입력과 다릅니다."},
    "no_gradient": {"en": "no gradient reached this input, but the output depends on it.",
                    "ko": "출력이 이 입력에 의존하는데 기울기가 전달되지 않았습니다."},
    "dout_ignored": {"en": "backward does not multiply by the upstream gradient dout.",
                     "ko": "역전파가 상류 기울기 dout을 곱하지 않습니다."},
    "upstream_dependent": {"en": "the gradient is right for one dout and wrong for another.",
                           "ko": "어떤 dout에서는 맞고 다른 dout에서는 틀립니다."},
    "backward_nonfinite": {"en": "backward produced NaN or Inf.",
                           "ko": "역전파 결과에 NaN 또는 Inf가 있습니다."},
    "forward_nonfinite": {"en": "the forward output holds NaN or Inf: choose inputs in the "
                                "function's domain.",
                          "ko": "순전파 출력에 NaN 또는 Inf가 있습니다: 함수의 정의역 안의 "
                                "입력을 고르세요."},
    "numeric_nonfinite": {"en": "the forward is not finite near these inputs.",
                          "ko": "이 입력 근처에서 순전파 값이 유한하지 않습니다."},
    "nondeterministic": {"en": "the forward is not deterministic (two answers at one point).",
                         "ko": "순전파가 결정적이지 않습니다(같은 입력에 다른 출력)."},
    "kink": {"en": "an input sits at a kink (relu or max at a tie).",
             "ko": "입력이 꺾이는 점(relu의 0, max의 동점)에 있습니다."},
    "time_step": {"en": "backpropagation through time goes wrong at one time step.",
                  "ko": "시간 역전파(BPTT)가 어느 시간 단계에서 틀립니다."},
    "last_step_only": {"en": "only the last time step was accumulated.",
                       "ko": "마지막 시간 단계의 기울기만 누적되었습니다."},
    "partial": {"en": "some elements are right and others wrong.",
                "ko": "일부 원소만 맞고 나머지는 틀립니다."},
    "float32": {"en": "only float32 rounding: the backward is right.",
                "ko": "float32 반올림 오차일 뿐입니다: 역전파는 맞습니다."},
    "unknown": {"en": "the gradient is wrong in a pattern without a simple name.",
                "ko": "기울기가 틀렸지만 단순한 원인으로 설명되지 않습니다."},
})
